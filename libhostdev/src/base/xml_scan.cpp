#include "base/xml_scan.hpp"

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
std::size_t check_references(std::string_view t, std::size_t begin, std::size_t end, std::string& why) {
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
                if (c >= '0' && c <= '9')
                    d = c - '0';
                else if (hex && c >= 'a' && c <= 'f')
                    d = c - 'a' + 10;
                else if (hex && c >= 'A' && c <= 'F')
                    d = c - 'A' + 10;
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

namespace {

// One pass over the text; each construct has its method, which returns false
// once it has recorded the first error.
class Scanner {
public:
    Scanner(std::string_view text, int max_depth) : t_(text), n_(text.size()), max_depth_(max_depth) {}

    XmlSkeleton run() {
        if (starts(0, "\xEF\xBB\xBF")) p_ = 3;
        if (starts(p_, "<?xml") && p_ + 5 < n_ && is_ws(t_[p_ + 5])) {
            std::size_t e = t_.find("?>", p_);
            if (e == std::string_view::npos) {
                fail(Kind::syntax, p_, "unterminated XML declaration");
                return done();
            }
            p_ = e + 2;
        }
        while (p_ < n_ && step()) {
        }
        if (out_.error.kind != Kind::none) return done();
        if (!stack_.empty()) {
            const ScanElement& open = out_.elements[static_cast<std::size_t>(stack_.back())];
            fail(Kind::syntax, open.open_begin, "element <" + std::string(open.name) + "> is never closed");
        } else if (!root_seen_) {
            fail(Kind::syntax, n_, "no root element");
        }
        return done();
    }

private:
    using Kind = ScanError::Kind;

    XmlSkeleton done() { return std::move(out_); }
    bool fail(Kind kind, std::size_t off, std::string msg) {
        out_.error = ScanError{kind, off, std::move(msg)};
        return false;
    }
    [[nodiscard]] bool starts(std::size_t at, std::string_view s) const { return t_.substr(at, s.size()) == s; }

    // One construct at p_: text, comment, CDATA, DOCTYPE, processing instruction, end or start tag.
    bool step() {
        if (t_[p_] != '<') return text();
        if (starts(p_, "<!--")) return comment();
        if (starts(p_, "<![CDATA[")) return cdata();
        if (starts(p_, "<!DOCTYPE") || starts(p_, "<!doctype"))
            return fail(Kind::doctype, p_, "DTD/DOCTYPE is not allowed in a domain definition");
        if (starts(p_, "<!ENTITY"))
            return fail(Kind::doctype, p_, "entity declarations are not allowed in a domain definition");
        if (starts(p_, "<!")) return fail(Kind::syntax, p_, "unexpected '<!' markup");
        if (starts(p_, "<?")) return processing_instruction();
        if (starts(p_, "</")) return end_tag();
        return start_tag();
    }

    bool text() {
        std::size_t e = t_.find('<', p_);
        if (e == std::string_view::npos) e = n_;
        if (stack_.empty()) {
            for (std::size_t i = p_; i < e; ++i)
                if (!is_ws(t_[i])) return fail(Kind::syntax, i, "text outside the root element");
        } else {
            std::string why;
            std::size_t bad = check_references(t_, p_, e, why);
            if (bad != std::string_view::npos) return fail(Kind::syntax, bad, why);
            std::size_t cdend = t_.find("]]>", p_);
            if (cdend < e) return fail(Kind::syntax, cdend, "']]>' in text (write ]]&gt;)");
        }
        p_ = e;
        return true;
    }

    bool comment() {
        std::size_t e = t_.find("-->", p_ + 4);
        if (e == std::string_view::npos) return fail(Kind::syntax, p_, "unterminated comment");
        std::size_t dd = t_.find("--", p_ + 4);
        if (dd < e) return fail(Kind::syntax, dd, "'--' inside a comment");
        if (e > p_ + 4 && t_[e - 1] == '-') return fail(Kind::syntax, e - 1, "comment ends with '--->'");
        p_ = e + 3;
        return true;
    }

    bool cdata() {
        if (stack_.empty()) return fail(Kind::syntax, p_, "CDATA section outside the root element");
        std::size_t e = t_.find("]]>", p_ + 9);
        if (e == std::string_view::npos) return fail(Kind::syntax, p_, "unterminated CDATA section");
        p_ = e + 3;
        return true;
    }

    bool processing_instruction() {
        std::size_t ne = scan_name(t_, p_ + 2);
        if (ne == p_ + 2) return fail(Kind::syntax, p_, "processing instruction without a target");
        std::string target(t_.substr(p_ + 2, ne - p_ - 2));
        std::transform(target.begin(), target.end(), target.begin(),
                       [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
        if (target == "xml")
            return fail(Kind::syntax, p_, "XML declaration is only allowed at the very start of the file");
        std::size_t e = t_.find("?>", ne);
        if (e == std::string_view::npos) return fail(Kind::syntax, p_, "unterminated processing instruction");
        p_ = e + 2;
        return true;
    }

    bool end_tag() {
        std::size_t ne = scan_name(t_, p_ + 2);
        if (ne == p_ + 2) return fail(Kind::syntax, p_, "end tag without a name");
        std::string_view name = t_.substr(p_ + 2, ne - p_ - 2);
        std::size_t q = ne;
        while (q < n_ && is_ws(t_[q])) ++q;
        if (q >= n_ || t_[q] != '>') return fail(Kind::syntax, p_, "malformed end tag </" + std::string(name));
        if (stack_.empty()) return fail(Kind::syntax, p_, "end tag </" + std::string(name) + "> without a start tag");
        ScanElement& top = out_.elements[static_cast<std::size_t>(stack_.back())];
        if (top.name != name)
            return fail(Kind::syntax, p_,
                        "end tag </" + std::string(name) + "> does not match <" + std::string(top.name) + ">");
        top.close_begin = p_;
        top.close_end = q + 1;
        stack_.pop_back();
        p_ = q + 1;
        return true;
    }

    bool start_tag() {
        std::size_t ne = scan_name(t_, p_ + 1);
        if (ne == p_ + 1) return fail(Kind::syntax, p_, "'<' not followed by an element name (write &lt;)");
        if (stack_.empty() && root_seen_) return fail(Kind::syntax, p_, "more than one root element");
        ScanElement el;
        el.name = t_.substr(p_ + 1, ne - p_ - 1);
        el.open_begin = p_;
        el.parent = stack_.empty() ? -1 : stack_.back();
        el.depth = static_cast<int>(stack_.size()) + 1;
        if (el.depth > max_depth_)
            return fail(Kind::too_deep, p_,
                        "elements are nested deeper than " + std::to_string(max_depth_) + " levels");
        if (!attributes(el, ne)) return false;
        if (el.self_closing) {
            el.close_begin = el.open_begin;
            el.close_end = el.open_end;
        }
        int idx = static_cast<int>(out_.elements.size());
        if (el.parent >= 0) out_.elements[static_cast<std::size_t>(el.parent)].children.push_back(idx);
        p_ = el.open_end;
        bool push = !el.self_closing;
        out_.elements.push_back(std::move(el));
        if (push) stack_.push_back(idx);
        root_seen_ = true;
        return true;
    }

    // The attributes of a start tag from q (after its name) to its '>' or '/>'.
    bool attributes(ScanElement& el, std::size_t q) {
        while (true) {
            std::size_t ws_begin = q;
            while (q < n_ && is_ws(t_[q])) ++q;
            if (q >= n_) return fail(Kind::syntax, p_, "unterminated start tag <" + std::string(el.name));
            if (t_[q] == '>') {
                el.open_end = q + 1;
                return true;
            }
            if (t_[q] == '/' && q + 1 < n_ && t_[q + 1] == '>') {
                el.self_closing = true;
                el.open_end = q + 2;
                return true;
            }
            if (q == ws_begin)
                return fail(Kind::syntax, q, "expected whitespace, '>' or '/>' in start tag <" + std::string(el.name));
            if (!attribute(el, q)) return false;
        }
    }

    // One name='value' at q; q moves past the closing quote.
    bool attribute(ScanElement& el, std::size_t& q) {
        std::size_t an = scan_name(t_, q);
        if (an == q) return fail(Kind::syntax, q, "bad character in start tag <" + std::string(el.name));
        ScanAttr a;
        a.name = t_.substr(q, an - q);
        a.name_begin = q;
        q = an;
        while (q < n_ && is_ws(t_[q])) ++q;
        if (q >= n_ || t_[q] != '=')
            return fail(Kind::syntax, q, "attribute " + std::string(a.name) + " has no '=value'");
        ++q;
        while (q < n_ && is_ws(t_[q])) ++q;
        if (q >= n_ || (t_[q] != '\'' && t_[q] != '"'))
            return fail(Kind::syntax, q, "value of attribute " + std::string(a.name) + " is not quoted");
        a.quote = t_[q];
        a.value_begin = q + 1;
        std::size_t close = t_.find(a.quote, a.value_begin);
        if (close == std::string_view::npos)
            return fail(Kind::syntax, q, "unterminated value of attribute " + std::string(a.name));
        a.value_end = close;
        std::size_t lt = t_.find('<', a.value_begin);
        if (lt < close) return fail(Kind::syntax, lt, "'<' in the value of attribute " + std::string(a.name));
        std::string why;
        std::size_t bad = check_references(t_, a.value_begin, close, why);
        if (bad != std::string_view::npos) return fail(Kind::syntax, bad, why);
        if (el.attr(a.name) != nullptr)
            return fail(Kind::syntax, a.name_begin, "duplicate attribute " + std::string(a.name));
        el.attrs.push_back(a);
        q = close + 1;
        return true;
    }

    std::string_view t_;
    std::size_t n_;
    int max_depth_;
    XmlSkeleton out_;
    std::vector<int> stack_;
    bool root_seen_ = false;
    std::size_t p_ = 0;
};

}  // namespace

XmlSkeleton scan_xml(std::string_view t, int max_depth) { return Scanner(t, max_depth).run(); }

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
