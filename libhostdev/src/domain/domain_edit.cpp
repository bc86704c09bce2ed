#include "hostdev/domain/domain_edit.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "domain/domain_internal.hpp"

namespace hostdev {
namespace {

using detail::ParsedDomain;
using detail::ScanAttr;
using detail::ScanElement;

// One line of new text: nesting depth below the insertion indent, and content.
struct BlockLine {
    int depth;
    std::string text;
};
using Block = std::vector<BlockLine>;

struct Splice {
    std::size_t offset;
    std::size_t remove;
    std::string text;
    std::size_t seq;
};

std::string hex(unsigned value, int width) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%0*x", width, value);
    return buf;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_ws(char c) { return is_blank(c) || c == '\r' || c == '\n'; }

class Editor {
public:
    Editor(const ParsedDomain& pd, std::string_view filename) : pd_(pd), t_(pd.text), file_(filename) {
        detect_newline();
        detect_step();
        doc_quote_ = '\'';
        for (const auto& e : pd_.skeleton.elements) {
            if (!e.attrs.empty()) {
                doc_quote_ = e.attrs.front().quote;
                break;
            }
        }
    }

    Status inject(const std::vector<InjectedHostdev>& wanted, const std::vector<DomainEdits::SourceMove>& moves);
    Status set_multifunction(const PciAddress& source);
    void ensure_kvm_hidden();
    void set_pins(const std::vector<DevicePin>& pins);
    Status move_source(const PciAddress& from, const PciAddress& to);
    [[nodiscard]] std::string apply() const;
    [[nodiscard]] bool changed() const { return !splices_.empty(); }

private:
    // --- layout of the original text ---
    [[nodiscard]] std::size_t line_start(std::size_t off) const { return pd_.lines.line_start(off); }
    [[nodiscard]] bool starts_line(std::size_t off) const {
        for (std::size_t i = line_start(off); i < off; ++i)
            if (!is_blank(t_[i])) return false;
        return true;
    }
    [[nodiscard]] std::string line_indent(std::size_t off) const {
        std::size_t b = line_start(off);
        std::size_t e = b;
        while (e < t_.size() && is_blank(t_[e])) ++e;
        return std::string(t_.substr(b, e - b));
    }
    [[nodiscard]] std::size_t line_end(std::size_t off) const {
        std::size_t e = off;
        while (e < t_.size() && t_[e] != '\n' && t_[e] != '\r') ++e;
        return e;
    }
    // Only whitespace and complete comments in [a, b)?
    [[nodiscard]] bool only_ws_or_comments(std::size_t a, std::size_t b) const {
        std::size_t p = a;
        while (p < b) {
            if (is_ws(t_[p])) {
                ++p;
            } else if (t_.substr(p, 4) == "<!--") {
                std::size_t e = t_.find("-->", p + 4);
                if (e == std::string_view::npos || e + 3 > b) return false;
                p = e + 3;
            } else {
                return false;
            }
        }
        return true;
    }
    [[nodiscard]] const ScanElement& el(int idx) const { return pd_.skeleton.elements[static_cast<std::size_t>(idx)]; }
    [[nodiscard]] const ScanElement& el(const pugi::xml_node& n) const { return *pd_.element(n); }
    [[nodiscard]] int index_of(const ScanElement& e) const {
        return static_cast<int>(&e - pd_.skeleton.elements.data());
    }
    // Indentation for a new last child of `parent`: that of its last element
    // child that starts a line, else the parent's indentation plus one step.
    [[nodiscard]] std::string child_indent(const ScanElement& parent) const {
        for (auto it = parent.children.rbegin(); it != parent.children.rend(); ++it)
            if (starts_line(el(*it).open_begin)) return line_indent(el(*it).open_begin);
        return line_indent(parent.open_begin) + step_;
    }

    void detect_newline() {
        std::size_t lf = t_.find('\n');
        if (lf != std::string_view::npos) {
            nl_ = lf > 0 && t_[lf - 1] == '\r' ? "\r\n" : "\n";
        } else {
            nl_ = t_.find('\r') != std::string_view::npos ? "\r" : "\n";
        }
    }
    // The most common difference between a child's indentation and its
    // parent's, over elements that start their own lines.
    void detect_step() {
        std::map<std::string, int> count;
        std::vector<std::string> order;
        bool tabs = false;
        for (const auto& e : pd_.skeleton.elements) {
            if (!starts_line(e.open_begin)) continue;
            std::string ci = line_indent(e.open_begin);
            if (!ci.empty() && ci[0] == '\t') tabs = true;
            if (e.parent < 0) continue;
            const ScanElement& p = el(e.parent);
            if (!starts_line(p.open_begin)) continue;
            std::string pi = line_indent(p.open_begin);
            if (ci.size() <= pi.size() || ci.compare(0, pi.size(), pi) != 0) continue;
            std::string d = ci.substr(pi.size());
            if (count[d]++ == 0) order.push_back(d);
        }
        step_ = tabs ? "\t" : "  ";
        int best = 0;
        for (const auto& d : order) {
            if (count[d] > best) {
                best = count[d];
                step_ = d;
            }
        }
    }

    [[nodiscard]] std::string render(const BlockLine& line, const std::string& indent) const {
        std::string s = indent;
        for (int i = 0; i < line.depth; ++i) s += step_;
        return s + line.text;
    }
    void splice(std::size_t offset, std::size_t remove, std::string text) {
        splices_.push_back(Splice{offset, remove, std::move(text), splices_.size()});
    }

    // --- insertion primitives ---
    // After `elem`, as a sibling at `indent`. `parent_indent` is used when the
    // text after `elem` on its line has to move to a line of its own.
    void insert_after(const ScanElement& elem, const Block& block, const std::string& indent,
                      const std::string& parent_indent) {
        std::size_t p = elem.close_end;
        std::size_t e = line_end(p);
        std::string out;
        for (const auto& line : block) out += nl_ + render(line, indent);
        if (only_ws_or_comments(p, e)) {
            splice(e, 0, std::move(out));
        } else {
            std::size_t q = p;
            while (q < e && is_ws(t_[q])) ++q;
            out += nl_ + (t_.substr(q, 2) == "</" ? parent_indent : indent);
            splice(p, 0, std::move(out));
        }
    }
    // Before `elem`, as a sibling at `indent`.
    void insert_before(const ScanElement& elem, const Block& block, const std::string& indent) {
        if (starts_line(elem.open_begin)) {
            std::string out;
            for (const auto& line : block) out += render(line, indent) + nl_;
            splice(line_start(elem.open_begin), 0, std::move(out));
        } else {
            std::string out;
            for (const auto& line : block) out += nl_ + render(line, indent);
            splice(elem.open_begin, 0, out + nl_ + indent);
        }
    }
    // As the last child of `parent`, at `indent`.
    void insert_last_child(const ScanElement& parent, const Block& block, const std::string& indent) {
        std::string pind = line_indent(parent.open_begin);
        if (parent.self_closing) {
            // "<devices/>" becomes "<devices>" ... "</devices>".
            std::size_t slash = parent.open_end - 2;
            std::string out = ">";
            for (const auto& line : block) out += nl_ + render(line, indent);
            out += nl_ + pind + "</" + std::string(parent.name) + ">";
            splice(slash, 2, std::move(out));
            return;
        }
        std::size_t c = parent.close_begin;
        std::size_t ls = line_start(c);
        if (starts_line(c) && ls >= parent.open_end) {
            std::string out;
            for (const auto& line : block) out += render(line, indent) + nl_;
            splice(ls, 0, std::move(out));
        } else {
            std::string out;
            for (const auto& line : block) out += nl_ + render(line, indent);
            splice(c, 0, out + nl_ + pind);
        }
    }
    // Sets attribute `name` of `elem` to `value`: replaces just the value if
    // the attribute exists, else appends it after the last attribute.
    void set_attribute(const ScanElement& elem, std::string_view name, std::string_view value) {
        if (const ScanAttr* a = elem.attr(name)) {
            if (t_.substr(a->value_begin, a->value_end - a->value_begin) != value)
                splice(a->value_begin, a->value_end - a->value_begin, std::string(value));
            return;
        }
        char q = elem.attrs.empty() ? doc_quote_ : elem.attrs.back().quote;
        std::size_t at = elem.attrs.empty() ? elem.open_begin + 1 + elem.name.size() : elem.attrs.back().value_end + 1;
        splice(at, 0, " " + std::string(name) + "=" + q + std::string(value) + q);
    }

    [[nodiscard]] std::string attr(std::string_view name, std::string_view value, char q) const {
        return std::string(name) + "=" + q + std::string(value) + q;
    }
    [[nodiscard]] std::string address_attrs(const PciAddress& a, char q) const {
        return attr("domain", hex(a.domain, 4), q) + " " + attr("bus", hex(a.bus, 2), q) + " " +
               attr("slot", hex(a.slot, 2), q) + " " + attr("function", hex(a.function, 1), q);
    }
    [[nodiscard]] Block hostdev_block(const InjectedHostdev& h, char q) const {
        Block b;
        b.push_back({0, "<hostdev " + attr("mode", "subsystem", q) + " " + attr("type", "pci", q) + " " +
                            attr("managed", h.managed ? "yes" : "no", q) + ">"});
        b.push_back({1, "<source>"});
        b.push_back({2, "<address " + address_attrs(h.source, q) + "/>"});
        b.push_back({1, "</source>"});
        if (h.guest_address) {
            std::string g = "<address " + attr("type", "pci", q) + " " + address_attrs(*h.guest_address, q);
            if (h.guest_multifunction) g += " " + attr("multifunction", "on", q);
            b.push_back({1, g + "/>"});
        }
        b.push_back({0, "</hostdev>"});
        return b;
    }

    // The pins element as libvirt's dumpxml writes metadata (libxml2: double
    // quotes, attributes escaped), so that define and dumpxml keep it byte for byte.
    [[nodiscard]] static Block pins_block(const std::vector<DevicePin>& pins) {
        const std::string p = "hostdev:";
        Block b{{0, "<" + p + "pins xmlns:hostdev=\"" + std::string(kPinNamespace) + "\">"}};
        for (const auto& pin : pins) b.push_back({1, "<" + p + "device" + pin_attributes(pin) + "/>"});
        b.push_back({0, "</" + p + "pins>"});
        return b;
    }
    [[nodiscard]] static std::string pin_attributes(const DevicePin& pin) {
        std::string out;
        auto put = [&](std::string_view name, const std::optional<std::string>& value) {
            if (value) out += " " + std::string(name) + "=\"" + escape_attribute(*value) + "\"";
        };
        auto number = [](auto v, int width) {
            return v ? std::optional<std::string>(hex(static_cast<unsigned>(*v), width)) : std::nullopt;
        };
        const DeviceIdentity& id = pin.identity;
        put("address", pin.address.str());
        put("vendor", number(id.vendor, 4));
        put("device", number(id.device, 4));
        put("subsystem-vendor", number(id.subsystem_vendor, 4));
        put("subsystem-device", number(id.subsystem_device, 4));
        put("class", number(id.class_code, 6));
        put("revision", number(id.revision, 2));
        put("slot-path", id.slot_path);
        put("dsn", id.serials.dsn);
        put("nvme-serial", id.serials.nvme);
        put("mac", id.serials.mac);
        return out;
    }
    [[nodiscard]] static std::string escape_attribute(std::string_view v) {
        std::string out;
        for (char c : v) {
            switch (c) {
                case '&': out += "&amp;"; break;
                case '<': out += "&lt;"; break;
                case '>': out += "&gt;"; break;
                case '"': out += "&quot;"; break;
                default: out += c;
            }
        }
        return out;
    }
    void replace_element(const ScanElement& elem, const Block& block);
    void remove_element(const ScanElement& elem);

    const ParsedDomain& pd_;
    std::string_view t_;
    std::string_view file_;
    std::string nl_;
    std::string step_;
    char doc_quote_;
    std::vector<Splice> splices_;
};

Status Editor::inject(const std::vector<InjectedHostdev>& wanted, const std::vector<DomainEdits::SourceMove>& moves) {
    std::set<PciAddress> present;
    for (const auto& h : pd_.domain.passthrough) {
        PciAddress a = h.source;
        for (const auto& m : moves)
            if (m.from == h.source) a = m.to;
        present.insert(a);
    }
    std::vector<const InjectedHostdev*> todo;
    for (const auto& h : wanted)
        if (present.insert(h.source).second) todo.push_back(&h);
    if (todo.empty()) return ok_status();

    pugi::xml_node root = pd_.doc.document_element();
    pugi::xml_node devices = root.child("devices");
    pugi::xml_node last;
    for (pugi::xml_node hd : devices.children("hostdev")) last = hd;

    char q = doc_quote_;
    if (last && !el(last).attrs.empty()) q = el(last).attrs.front().quote;
    Block block;
    for (const auto* h : todo) {
        Block b = hostdev_block(*h, q);
        block.insert(block.end(), b.begin(), b.end());
    }

    if (!devices) {
        // No <devices> at all: create one as the last child of <domain>.
        Block wrapped;
        wrapped.push_back({0, "<devices>"});
        for (auto& line : block) wrapped.push_back({line.depth + 1, line.text});
        wrapped.push_back({0, "</devices>"});
        insert_last_child(el(root), wrapped, child_indent(el(root)));
        return ok_status();
    }
    const ScanElement& dev = el(devices);
    if (last) {
        const ScanElement& l = el(last);
        std::string indent = starts_line(l.open_begin) ? line_indent(l.open_begin) : child_indent(dev);
        insert_after(l, block, indent, line_indent(dev.open_begin));
    } else {
        insert_last_child(dev, block, child_indent(dev));
    }
    return ok_status();
}

Status Editor::set_multifunction(const PciAddress& source) {
    // The parser records the element of each passthrough device, same index.
    const std::vector<pugi::xml_node>& nodes = pd_.passthrough_nodes;
    bool found = false;
    for (std::size_t i = 0; i < nodes.size() && i < pd_.domain.passthrough.size(); ++i) {
        const PassthroughDevice& h = pd_.domain.passthrough[i];
        if (h.source != source) continue;
        found = true;
        pugi::xml_node guest;
        for (pugi::xml_node a : nodes[i].children("address")) {
            if (std::string_view(a.attribute("type").value()) == "pci") {
                guest = a;
                break;
            }
        }
        if (!guest)
            return make_error(std::string(file_) + ":" + std::to_string(h.line) + ": <" +
                              std::string(to_string(h.element)) + "> of " + source.str() +
                              " has no guest <address type='pci'> to mark multifunction");
        set_attribute(el(guest), "multifunction", "on");
    }
    if (!found)
        return make_error(std::string(file_) + ": no PCI <hostdev> with source " + source.str() +
                          " (nor <interface type='hostdev'>) to mark multifunction");
    return ok_status();
}

void Editor::ensure_kvm_hidden() {
    pugi::xml_node root = pd_.doc.document_element();
    const std::string hidden = "<hidden " + attr("state", "on", doc_quote_) + "/>";
    pugi::xml_node features = root.child("features");
    if (!features) {
        Block b{{0, "<features>"}, {1, "<kvm>"}, {2, hidden}, {1, "</kvm>"}, {0, "</features>"}};
        const ScanElement& r = el(root);
        if (pugi::xml_node os = root.child("os")) {
            const ScanElement& o = el(os);
            std::string indent = starts_line(o.open_begin) ? line_indent(o.open_begin) : child_indent(r);
            insert_after(o, b, indent, line_indent(r.open_begin));
        } else if (pugi::xml_node devices = root.child("devices")) {
            const ScanElement& d = el(devices);
            std::string indent = starts_line(d.open_begin) ? line_indent(d.open_begin) : child_indent(r);
            insert_before(d, b, indent);
        } else {
            insert_last_child(r, b, child_indent(r));
        }
        return;
    }
    const ScanElement& f = el(features);
    pugi::xml_node kvm = features.child("kvm");
    if (!kvm) {
        insert_last_child(f, Block{{0, "<kvm>"}, {1, hidden}, {0, "</kvm>"}}, child_indent(f));
        return;
    }
    const ScanElement& k = el(kvm);
    pugi::xml_node h = kvm.child("hidden");
    if (!h) {
        insert_last_child(k, Block{{0, hidden}}, child_indent(k));
        return;
    }
    set_attribute(el(h), "state", "on");
}

void Editor::replace_element(const ScanElement& elem, const Block& block) {
    const std::string indent =
        starts_line(elem.open_begin) ? line_indent(elem.open_begin) : child_indent(el(elem.parent));
    std::string out;
    for (std::size_t i = 0; i < block.size(); ++i) {
        if (i > 0) out += nl_;
        out += i == 0 ? render(block[i], "") : render(block[i], indent);
    }
    splice(elem.open_begin, elem.close_end - elem.open_begin, std::move(out));
}

void Editor::remove_element(const ScanElement& elem) {
    std::size_t b = elem.open_begin;
    std::size_t e = elem.close_end;
    const std::size_t le = line_end(e);
    if (starts_line(b) && only_ws_or_comments(e, le) &&
        t_.substr(e, le - e).find_first_not_of(" \t") == std::string_view::npos) {
        b = line_start(b);
        e = le;
        if (e < t_.size() && t_[e] == '\r') ++e;
        if (e < t_.size() && t_[e] == '\n') ++e;
    }
    splice(b, e - b, "");
}

void Editor::set_pins(const std::vector<DevicePin>& pins) {
    pugi::xml_node root = pd_.doc.document_element();
    if (pd_.pins_node) {
        if (pins.empty())
            remove_element(el(pd_.pins_node));
        else
            replace_element(el(pd_.pins_node), pins_block(pins));
        return;
    }
    if (pins.empty()) return;
    Block block = pins_block(pins);
    if (pugi::xml_node md = root.child("metadata")) {
        insert_last_child(el(md), block, child_indent(el(md)));
        return;
    }
    Block wrapped{{0, "<metadata>"}};
    for (auto& line : block) wrapped.push_back({line.depth + 1, line.text});
    wrapped.push_back({0, "</metadata>"});
    // libvirt's order: name, uuid, genid, title, description, metadata.
    pugi::xml_node after;
    for (pugi::xml_node c : root.children())
        for (const char* name : {"name", "uuid", "genid", "title", "description"})
            if (c.type() == pugi::node_element && std::string_view(c.name()) == name) after = c;
    const ScanElement& r = el(root);
    if (after) {
        const ScanElement& a = el(after);
        std::string indent = starts_line(a.open_begin) ? line_indent(a.open_begin) : child_indent(r);
        insert_after(a, wrapped, indent, line_indent(r.open_begin));
    } else {
        insert_last_child(r, wrapped, child_indent(r));
    }
}

Status Editor::move_source(const PciAddress& from, const PciAddress& to) {
    bool found = false;
    const std::vector<pugi::xml_node>& nodes = pd_.passthrough_nodes;
    for (std::size_t i = 0; i < nodes.size() && i < pd_.domain.passthrough.size(); ++i) {
        if (pd_.domain.passthrough[i].source != from) continue;
        pugi::xml_node a = nodes[i].child("source").child("address");
        if (!a) continue;
        found = true;
        const ScanElement& e = el(a);
        set_attribute(e, "domain", hex(to.domain, 4));
        set_attribute(e, "bus", hex(to.bus, 2));
        set_attribute(e, "slot", hex(to.slot, 2));
        set_attribute(e, "function", hex(to.function, 1));
    }
    if (!found)
        return make_error(std::string(file_) + ": no PCI <hostdev> with source " + from.str() +
                          " (nor <interface type='hostdev'>) to move to " + to.str());
    return ok_status();
}

std::string Editor::apply() const {
    std::vector<const Splice*> order;
    for (const auto& s : splices_) order.push_back(&s);
    std::sort(order.begin(), order.end(), [](const Splice* a, const Splice* b) {
        return a->offset != b->offset ? a->offset < b->offset : a->seq < b->seq;
    });
    std::string out;
    std::size_t extra = 0;
    for (const auto* s : order) extra += s->text.size();
    out.reserve(t_.size() + extra);
    std::size_t pos = 0;
    for (const auto* s : order) {
        // Splices never overlap: each touches a distinct element or position.
        std::size_t at = std::max(s->offset, pos);
        out.append(t_.substr(pos, at - pos));
        out.append(s->text);
        pos = std::max(pos, s->offset + s->remove);
    }
    out.append(t_.substr(pos));
    return out;
}

}  // namespace

DomainDocument::DomainDocument(std::unique_ptr<detail::ParsedDomain> parsed) : parsed_(std::move(parsed)) {}
DomainDocument::DomainDocument(DomainDocument&&) noexcept = default;
DomainDocument& DomainDocument::operator=(DomainDocument&&) noexcept = default;
DomainDocument::~DomainDocument() = default;

Result<DomainDocument> DomainDocument::parse(std::string_view text, std::string_view filename) {
    auto parsed = detail::parse_domain_document(text, filename);
    if (!parsed) return parsed.error();
    return DomainDocument(std::move(*parsed));
}

const Domain& DomainDocument::domain() const { return parsed_->domain; }
std::string_view DomainDocument::text() const { return parsed_->text; }

std::string_view DomainDocument::element_text(std::size_t i) const {
    if (i >= parsed_->passthrough_nodes.size()) return {};
    const detail::ScanElement* e = parsed_->element(parsed_->passthrough_nodes[i]);
    if (!e) return {};
    return parsed_->text.substr(e->open_begin, e->close_end - e->open_begin);
}

Result<std::string> apply_domain_edits(std::string_view original, const DomainEdits& edits, std::string_view filename) {
    auto document = DomainDocument::parse(original, filename);
    if (!document) return document.error();
    return apply_domain_edits(*document, edits, filename);
}

Result<std::string> apply_domain_edits(const DomainDocument& document, const DomainEdits& edits,
                                       std::string_view filename) {
    const std::string_view original = document.parsed().text;
    if (edits.empty()) return std::string(original);

    Editor editor(document.parsed(), filename);
    std::set<PciAddress> marked;
    for (const auto& src : edits.set_guest_multifunction) {
        if (!marked.insert(src).second) continue;
        Status st = editor.set_multifunction(src);
        if (!st) return st.error();
    }
    for (const auto& m : edits.move_source) {
        Status moved = editor.move_source(m.from, m.to);
        if (!moved) return moved.error();
    }
    Status st = editor.inject(edits.inject, edits.move_source);
    if (!st) return st.error();
    if (edits.ensure_kvm_hidden) editor.ensure_kvm_hidden();
    if (edits.pins) editor.set_pins(*edits.pins);
    if (!editor.changed()) return std::string(original);

    std::string out = editor.apply();
    // The result must parse like any input and show every edit.
    auto check = parse_domain_xml(out, filename);
    auto internal = [&](const std::string& why) {
        return make_error(std::string(filename) + ": internal error: the edited definition " + why +
                          "; the input was left unchanged");
    };
    if (!check) return internal("does not parse (" + check.error().message + ")");
    for (const auto& h : edits.inject) {
        bool there = std::any_of(check->passthrough.begin(), check->passthrough.end(),
                                 [&](const PassthroughDevice& p) { return p.source == h.source; });
        if (!there) return internal("lacks the hostdev " + h.source.str());
    }
    if (edits.ensure_kvm_hidden && check->kvm_hidden_state != std::optional<std::string>("on"))
        return internal("lacks <kvm><hidden state='on'/>");
    if (edits.pins) {
        std::vector<std::pair<PciAddress, DeviceIdentity>> want, got;
        for (const auto& p : *edits.pins) want.emplace_back(p.address, p.identity);
        for (const auto& p : check->pins) got.emplace_back(p.address, p.identity);
        if (want != got) return internal("does not read back the device pins it was given");
    }
    for (const auto& m : edits.move_source) {
        bool there = std::any_of(check->passthrough.begin(), check->passthrough.end(),
                                 [&](const PassthroughDevice& p) { return p.source == m.to; });
        if (!there) return internal("lacks the moved source " + m.to.str());
    }
    return out;
}

}  // namespace hostdev
