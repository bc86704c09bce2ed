#include "domain/xml_scan.hpp"

#include <algorithm>
#include <cstdint>

namespace hostdev::detail {

LineIndex::LineIndex(std::string_view text) {
    starts_.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n') {
            starts_.push_back(i + 1);
        } else if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) {
            starts_.push_back(i + 1);
        }
    }
}

int LineIndex::line_of(std::size_t offset) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    return static_cast<int>(it - starts_.begin());
}

std::size_t LineIndex::line_start(std::size_t offset) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    return *(it - 1);
}

const ScanAttr* ScanElement::attr(std::string_view attr_name) const {
    for (const auto& a : attrs)
        if (a.name == attr_name) return &a;
    return nullptr;
}

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_name_start(char c) {
    auto u = static_cast<unsigned char>(c);
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u == ':' || u >= 0x80;
}

bool is_name_char(char c) {
    auto u = static_cast<unsigned char>(c);
    return is_name_start(c) || (u >= '0' && u <= '9') || u == '-' || u == '.';
}

std::size_t scan_name(std::string_view t, std::size_t p) {
    if (p >= t.size() || !is_name_start(t[p])) return p;
    ++p;
    while (p < t.size() && is_name_char(t[p])) ++p;
    return p;
}

bool is_xml_char(std::uint32_t c) {
    if (c == 0x9 || c == 0xA || c == 0xD) return true;
    if (c < 0x20) return false;
    if (c >= 0xD800 && c <= 0xDFFF) return false;
    if (c == 0xFFFE || c == 0xFFFF) return false;
    return c <= 0x10FFFF;
}

// Checks every '&' in [begin, end) starts a predefined entity or a character
// reference. Returns the offset of the first bad one, or npos.
std::size_t check_references(std::string_view t, std::size_t begin, std::size_t end,
                             std::string& why) {
    for (std::size_t p = t.find('&', begin); p < end; p = t.find('&', p + 1)) {
        std::size_t semi = t.find(';', p);
        if (semi == std::string_view::npos || semi >= end) {
            why = "'&' that does not start a reference (write &amp;)";
            return p;
        }
        std::string_view ref = t.substr(p + 1, semi - p - 1);
        if (ref == "lt" || ref == "gt" || ref == "amp" || ref == "quot" || ref == "apos") continue;
        if (!ref.empty() && ref[0] == '#') {
            bool hex = ref.size() > 1 && ref[1] == 'x';
            std::string_view digits = ref.substr(hex ? 2 : 1);
            bool okdigits = !digits.empty() && digits.size() <= 8;
            std::uint32_t v = 0;
            for (char c : digits) {
                int d = -1;
                if (c >= '0' && c <= '9') d = c - '0';
                else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
                else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
                if (d < 0) {
                    okdigits = false;
                    break;
                }
                v = v * (hex ? 16U : 10U) + static_cast<std::uint32_t>(d);
            }
            if (okdigits && is_xml_char(v)) continue;
            why = "character reference &" + std::string(ref) + "; is not a valid XML character";
            return p;
        }
        bool name_ok = scan_name(ref, 0) == ref.size() && !ref.empty();
        why = name_ok ? "reference to undeclared entity &" + std::string(ref) + ";"
                      : "'&' that does not start a reference (write &amp;)";
        return p;
    }
    return std::string_view::npos;
}

}  // namespace

XmlSkeleton scan_xml(std::string_view t, int max_depth) {
    using Kind = ScanError::Kind;
    XmlSkeleton out;
    const std::size_t n = t.size();
    std::vector<int> stack;
    bool root_seen = false;
    std::size_t p = 0;

    auto fail = [&](Kind kind, std::size_t off, std::string msg) -> XmlSkeleton& {
        out.error = ScanError{kind, off, std::move(msg)};
        return out;
    };
    auto starts = [&](std::size_t at, std::string_view s) { return t.substr(at, s.size()) == s; };

    if (starts(0, "\xEF\xBB\xBF")) p = 3;
    if (starts(p, "<?xml") && p + 5 < n && is_ws(t[p + 5])) {
        std::size_t e = t.find("?>", p);
        if (e == std::string_view::npos)
            return fail(Kind::syntax, p, "unterminated XML declaration");
        p = e + 2;
    }

    while (p < n) {
        if (t[p] != '<') {
            std::size_t e = t.find('<', p);
            if (e == std::string_view::npos) e = n;
            if (stack.empty()) {
                for (std::size_t i = p; i < e; ++i)
                    if (!is_ws(t[i])) return fail(Kind::syntax, i, "text outside the root element");
            } else {
                std::string why;
                std::size_t bad = check_references(t, p, e, why);
                if (bad != std::string_view::npos) return fail(Kind::syntax, bad, why);
                std::size_t cdend = t.find("]]>", p);
                if (cdend < e) return fail(Kind::syntax, cdend, "']]>' in text (write ]]&gt;)");
            }
            p = e;
            continue;
        }
        if (starts(p, "<!--")) {
            std::size_t e = t.find("-->", p + 4);
            if (e == std::string_view::npos) return fail(Kind::syntax, p, "unterminated comment");
            std::size_t dd = t.find("--", p + 4);
            if (dd < e) return fail(Kind::syntax, dd, "'--' inside a comment");
            if (e > p + 4 && t[e - 1] == '-') return fail(Kind::syntax, e - 1, "comment ends with '--->'");
            p = e + 3;
            continue;
        }
        if (starts(p, "<![CDATA[")) {
            if (stack.empty()) return fail(Kind::syntax, p, "CDATA section outside the root element");
            std::size_t e = t.find("]]>", p + 9);
            if (e == std::string_view::npos) return fail(Kind::syntax, p, "unterminated CDATA section");
            p = e + 3;
            continue;
        }
        if (starts(p, "<!DOCTYPE") || starts(p, "<!doctype"))
            return fail(Kind::doctype, p, "DTD/DOCTYPE is not allowed in a domain definition");
        if (starts(p, "<!ENTITY"))
            return fail(Kind::doctype, p, "entity declarations are not allowed in a domain definition");
        if (starts(p, "<!")) return fail(Kind::syntax, p, "unexpected '<!' markup");
        if (starts(p, "<?")) {
            std::size_t ne = scan_name(t, p + 2);
            if (ne == p + 2) return fail(Kind::syntax, p, "processing instruction without a target");
            std::string target(t.substr(p + 2, ne - p - 2));
            std::transform(target.begin(), target.end(), target.begin(),
                           [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
            if (target == "xml")
                return fail(Kind::syntax, p, "XML declaration is only allowed at the very start of the file");
            std::size_t e = t.find("?>", ne);
            if (e == std::string_view::npos)
                return fail(Kind::syntax, p, "unterminated processing instruction");
            p = e + 2;
            continue;
        }
        if (starts(p, "</")) {
            std::size_t ne = scan_name(t, p + 2);
            if (ne == p + 2) return fail(Kind::syntax, p, "end tag without a name");
            std::string_view name = t.substr(p + 2, ne - p - 2);
            std::size_t q = ne;
            while (q < n && is_ws(t[q])) ++q;
            if (q >= n || t[q] != '>') return fail(Kind::syntax, p, "malformed end tag </" + std::string(name));
            if (stack.empty())
                return fail(Kind::syntax, p, "end tag </" + std::string(name) + "> without a start tag");
            ScanElement& top = out.elements[static_cast<std::size_t>(stack.back())];
            if (top.name != name)
                return fail(Kind::syntax, p,
                            "end tag </" + std::string(name) + "> does not match <" + std::string(top.name) + ">");
            top.close_begin = p;
            top.close_end = q + 1;
            stack.pop_back();
            p = q + 1;
            continue;
        }
        // Start tag.
        std::size_t ne = scan_name(t, p + 1);
        if (ne == p + 1) return fail(Kind::syntax, p, "'<' not followed by an element name (write &lt;)");
        if (stack.empty() && root_seen) return fail(Kind::syntax, p, "more than one root element");
        ScanElement el;
        el.name = t.substr(p + 1, ne - p - 1);
        el.open_begin = p;
        el.parent = stack.empty() ? -1 : stack.back();
        el.depth = static_cast<int>(stack.size()) + 1;
        if (el.depth > max_depth)
            return fail(Kind::too_deep, p,
                        "elements are nested deeper than " + std::to_string(max_depth) + " levels");
        std::size_t q = ne;
        while (true) {
            std::size_t ws_begin = q;
            while (q < n && is_ws(t[q])) ++q;
            if (q >= n) return fail(Kind::syntax, p, "unterminated start tag <" + std::string(el.name));
            if (t[q] == '>') {
                el.open_end = q + 1;
                break;
            }
            if (t[q] == '/' && q + 1 < n && t[q + 1] == '>') {
                el.self_closing = true;
                el.open_end = q + 2;
                break;
            }
            if (q == ws_begin)
                return fail(Kind::syntax, q, "expected whitespace, '>' or '/>' in start tag <" + std::string(el.name));
            std::size_t an = scan_name(t, q);
            if (an == q) return fail(Kind::syntax, q, "bad character in start tag <" + std::string(el.name));
            ScanAttr a;
            a.name = t.substr(q, an - q);
            a.name_begin = q;
            q = an;
            while (q < n && is_ws(t[q])) ++q;
            if (q >= n || t[q] != '=')
                return fail(Kind::syntax, q, "attribute " + std::string(a.name) + " has no '=value'");
            ++q;
            while (q < n && is_ws(t[q])) ++q;
            if (q >= n || (t[q] != '\'' && t[q] != '"'))
                return fail(Kind::syntax, q, "value of attribute " + std::string(a.name) + " is not quoted");
            a.quote = t[q];
            a.value_begin = q + 1;
            std::size_t close = t.find(a.quote, a.value_begin);
            if (close == std::string_view::npos)
                return fail(Kind::syntax, q, "unterminated value of attribute " + std::string(a.name));
            a.value_end = close;
            std::size_t lt = t.find('<', a.value_begin);
            if (lt < close) return fail(Kind::syntax, lt, "'<' in the value of attribute " + std::string(a.name));
            std::string why;
            std::size_t bad = check_references(t, a.value_begin, close, why);
            if (bad != std::string_view::npos) return fail(Kind::syntax, bad, why);
            if (el.attr(a.name) != nullptr)
                return fail(Kind::syntax, a.name_begin, "duplicate attribute " + std::string(a.name));
            el.attrs.push_back(a);
            q = close + 1;
        }
        if (el.self_closing) {
            el.close_begin = el.open_begin;
            el.close_end = el.open_end;
        }
        int idx = static_cast<int>(out.elements.size());
        if (el.parent >= 0) out.elements[static_cast<std::size_t>(el.parent)].children.push_back(idx);
        p = el.open_end;
        bool push = !el.self_closing;
        out.elements.push_back(std::move(el));
        if (push) stack.push_back(idx);
        root_seen = true;
    }
    if (!stack.empty()) {
        const ScanElement& open = out.elements[static_cast<std::size_t>(stack.back())];
        return fail(Kind::syntax, open.open_begin, "element <" + std::string(open.name) + "> is never closed");
    }
    if (!root_seen) return fail(Kind::syntax, n, "no root element");
    return out;
}

std::size_t find_prolog_doctype(std::string_view t) {
    std::size_t p = t.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
    while (p < t.size()) {
        if (is_ws(t[p])) {
            ++p;
        } else if (t.substr(p, 4) == "<!--") {
            std::size_t e = t.find("-->", p + 4);
            if (e == std::string_view::npos) return std::string_view::npos;
            p = e + 3;
        } else if (t.substr(p, 2) == "<?") {
            std::size_t e = t.find("?>", p + 2);
            if (e == std::string_view::npos) return std::string_view::npos;
            p = e + 2;
        } else if (t.substr(p, 9) == "<!DOCTYPE" || t.substr(p, 9) == "<!doctype") {
            return p;
        } else {
            return std::string_view::npos;
        }
    }
    return std::string_view::npos;
}

}  // namespace hostdev::detail
