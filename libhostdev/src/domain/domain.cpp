#include "hostdev/domain/domain.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "domain/domain_internal.hpp"
#include "hostdev/base/text.hpp"

namespace hostdev {
namespace {

using detail::LineIndex;
using detail::ParsedDomain;
using detail::ScanError;

using detail::attr_value;
using detail::error_at;

std::string hex_byte(unsigned char b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", b);
    return buf;
}

bool is_xml_char(std::uint32_t c) {
    if (c == 0x9 || c == 0xA || c == 0xD) return true;
    if (c < 0x20) return false;
    return c != 0xFFFE && c != 0xFFFF;
}

struct ByteProblem {
    std::size_t offset;
    std::string what;
};

// The first byte that is not valid UTF-8, or a code point XML forbids.
std::optional<ByteProblem> find_bad_byte(std::string_view t, std::string_view noun) {
    const std::size_t n = t.size();
    std::size_t i = 0;
    while (i < n) {
        auto c = static_cast<unsigned char>(t[i]);
        if (c < 0x80) {
            if (!is_xml_char(c)) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "control character U+%04X is not allowed in XML", c);
                return ByteProblem{i, buf};
            }
            ++i;
            continue;
        }
        std::size_t len = 0;
        std::uint32_t cp = 0;
        std::uint32_t min = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1FU, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0FU, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07U, min = 0x10000;
        }
        bool ok = len != 0 && i + len <= n;
        for (std::size_t k = 1; ok && k < len; ++k) {
            auto b = static_cast<unsigned char>(t[i + k]);
            if ((b & 0xC0U) != 0x80U) ok = false;
            cp = (cp << 6U) | (b & 0x3FU);
        }
        if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
        if (!ok)
            return ByteProblem{i, "invalid UTF-8 (byte " + hex_byte(c) + "); " + std::string(noun) +
                                      "s must be UTF-8 encoded (convert with iconv -t UTF-8)"};
        if (!is_xml_char(cp)) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "character U+%04X is not allowed in XML", cp);
            return ByteProblem{i, buf};
        }
        i += len;
    }
    return std::nullopt;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    return out;
}

// The encoding named by the XML declaration, with its offset; nullopt if
// there is no declaration or it names no encoding.
struct EncodingDecl {
    std::string value;
    std::size_t offset;
};
std::optional<EncodingDecl> declared_encoding(std::string_view t) {
    std::size_t p = t.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
    if (t.substr(p, 5) != "<?xml" || p + 5 >= t.size()) return std::nullopt;
    char after = t[p + 5];
    if (after != ' ' && after != '\t' && after != '\r' && after != '\n') return std::nullopt;
    std::size_t end = t.find("?>", p);
    if (end == std::string_view::npos) return std::nullopt;  // the scanner reports it
    std::string_view decl = t.substr(p, end - p);
    std::size_t k = decl.find("encoding");
    if (k == std::string_view::npos) return std::nullopt;
    std::size_t q = k + 8;
    auto skip_ws = [&] {
        while (q < decl.size() && (decl[q] == ' ' || decl[q] == '\t' || decl[q] == '\r' || decl[q] == '\n')) ++q;
    };
    skip_ws();
    if (q >= decl.size() || decl[q] != '=') return std::nullopt;
    ++q;
    skip_ws();
    if (q >= decl.size() || (decl[q] != '\'' && decl[q] != '"')) return std::nullopt;
    char quote = decl[q];
    std::size_t close = decl.find(quote, q + 1);
    if (close == std::string_view::npos) return std::nullopt;
    return EncodingDecl{std::string(decl.substr(q + 1, close - q - 1)), p + k};
}

// Checks the encoding: BOM, declaration, UTF-8 validity, characters XML forbids.
std::optional<Error> check_bytes(std::string_view text, std::string_view file, const LineIndex& lines,
                                 std::string_view noun) {
    const std::string must = std::string(noun) + "s must be UTF-8";
    if (text.substr(0, 4) == std::string_view("\x00\x00\xFE\xFF", 4) ||
        text.substr(0, 4) == std::string_view("\xFF\xFE\x00\x00", 4))
        return error_at(file, 1, "file is UTF-32 encoded; " + must + " (convert with iconv -f UTF-32 -t UTF-8)");
    if (text.substr(0, 2) == "\xFE\xFF" || text.substr(0, 2) == "\xFF\xFE")
        return error_at(file, 1, "file is UTF-16 encoded; " + must + " (convert with iconv -f UTF-16 -t UTF-8)");
    // A declared name that is not itself UTF-8 is reported as the bad byte it is.
    if (auto enc = declared_encoding(text); enc && !find_bad_byte(enc->value, noun)) {
        std::string e = lower(enc->value);
        if (e != "utf-8" && e != "utf8" && e != "us-ascii" && e != "ascii")
            return error_at(file, lines.line_of(enc->offset),
                            "encoding '" + enc->value + "' is not supported: " + must + " (convert with iconv -f " +
                                enc->value + " -t UTF-8 and fix the declaration)");
    }
    if (auto bad = find_bad_byte(text, noun)) return error_at(file, lines.line_of(bad->offset), bad->what);
    return std::nullopt;
}

}  // namespace

namespace detail {

int ParsedDomain::line_of(const pugi::xml_node& node) const {
    return lines.line_of(static_cast<std::size_t>(node.offset_debug()));
}

const ScanElement* ParsedDomain::element(const pugi::xml_node& node) const {
    if (node.type() != pugi::node_element) return nullptr;
    std::ptrdiff_t off = node.offset_debug();
    if (off <= 0) return nullptr;
    auto begin = static_cast<std::size_t>(off) - 1;  // the '<' before the name
    const auto& els = skeleton.elements;
    auto it = std::lower_bound(els.begin(), els.end(), begin,
                               [](const ScanElement& e, std::size_t b) { return e.open_begin < b; });
    if (it == els.end() || it->open_begin != begin) return nullptr;
    return &*it;
}

Error error_at(std::string_view file, int line, std::string_view what) {
    std::string msg(file);
    if (line > 0) msg += ":" + std::to_string(line);
    msg += ": ";
    msg += what;
    return make_error(std::move(msg));
}

// Loads the tree: size, bytes, the lexical pass, pugixml, the root element.
Status load_document(ParsedDomain& pd, std::string_view file, const DocumentKind& kind) {
    const std::string_view text = pd.text;
    const LineIndex& lines = pd.lines;
    if (text.size() > kMaxDomainXmlBytes)
        return error_at(file, 0,
                        "file is " + std::to_string(text.size()) + " bytes, over the limit of " +
                            std::to_string(kMaxDomainXmlBytes / (1024 * 1024)) + " MiB for a " +
                            std::string(kind.noun));
    if (auto err = check_bytes(text, file, lines, kind.noun)) return *err;

    // The lexical pass runs first so that a DOCTYPE (and whatever entities
    // it declares) or an absurd nesting is refused before any tree is built.
    pd.skeleton = detail::scan_xml(text, kMaxDomainXmlDepth);
    const ScanError& serr = pd.skeleton.error;
    if (serr.kind == ScanError::Kind::doctype || serr.kind == ScanError::Kind::too_deep)
        return error_at(file, lines.line_of(serr.offset), serr.message);

    // pugixml never loads external resources and only knows the predefined
    // entities; the DOCTYPE check above keeps it from ever seeing a DTD.
    pugi::xml_parse_result pr = pd.doc.load_buffer(text.data(), text.size(), pugi::parse_default, pugi::encoding_utf8);
    // An error at the very end (something never closed) belongs to the last
    // line that has text, not to the empty line after the final newline.
    auto error_line = [&](std::size_t off) {
        off = std::min(off, text.size());
        while (off > 0 && off == text.size() && (text[off - 1] == '\n' || text[off - 1] == '\r')) --off;
        return lines.line_of(off);
    };
    // Of pugixml's error and the scanner's, the one earlier in the text wins
    // (pugixml reports some problems only at the end of the input).
    if (!pr) {
        std::size_t off = pr.offset < 0 ? 0 : static_cast<std::size_t>(pr.offset);
        if (serr.kind != ScanError::Kind::none && serr.offset < off)
            return error_at(file, error_line(serr.offset), "not well-formed XML: " + serr.message);
        return error_at(file, error_line(off), std::string("not well-formed XML: ") + pr.description());
    }
    if (serr.kind != ScanError::Kind::none)
        return error_at(file, error_line(serr.offset), "not well-formed XML: " + serr.message);

    pugi::xml_node root = pd.doc.document_element();
    if (std::string_view(root.name()) != kind.root)
        return error_at(file, pd.line_of(root),
                        "root element is <" + std::string(root.name()) + ">, not <" + std::string(kind.root) +
                            ">: this is not a libvirt " + std::string(kind.noun));
    return ok_status();
}

namespace {

bool is_pci_address(const pugi::xml_node& n) {
    return std::string_view(n.name()) == "address" && attr_value(n, "type") == std::optional<std::string_view>("pci");
}

// A guest <address type='pci'>, read as libvirt reads it (absent fields are 0).
Result<GuestPciAddress> guest_address_of(const ParsedDomain& pd, const pugi::xml_node& device, const pugi::xml_node& a,
                                         std::string_view file) {
    GuestPciAddress g;
    g.element = device.name();
    g.line = pd.line_of(a);
    auto addr = PciAddress::from_libvirt(attr_value(a, "domain"), attr_value(a, "bus"), attr_value(a, "slot"),
                                         attr_value(a, "function"));
    if (!addr) return error_at(file, g.line, "guest <address> of <" + g.element + ">: " + addr.error().message);
    g.address = *addr;
    g.multifunction = attr_value(a, "multifunction") == std::optional<std::string_view>("on");
    return g;
}

// How an element is named in messages: <hostdev type='pci'>, <interface type='hostdev'>.
std::string element_spelling(PassthroughDevice::Element e) {
    return e == PassthroughDevice::Element::Interface ? "<interface type='hostdev'>" : "<hostdev type='pci'>";
}

// The fields of one <hostdev mode='subsystem' type='pci'> or <interface
// type='hostdev'> (libvirt reads the interface's managed, <driver>, <source>,
// <rom>, <address>, <boot> and <alias> as a hostdev's).
Result<PassthroughDevice> pci_hostdev_of(const ParsedDomain& pd, const pugi::xml_node& hd,
                                         PassthroughDevice::Element element, std::string_view file) {
    PassthroughDevice h;
    h.element = element;
    h.line = pd.line_of(hd);
    if (auto managed = attr_value(hd, "managed")) {
        if (*managed == "yes")
            h.managed = true;
        else if (*managed != "no")
            return error_at(file, h.line, "managed='" + std::string(*managed) + "' must be 'yes' or 'no'");
    }
    pugi::xml_node src_addr = hd.child("source").child("address");
    if (!src_addr) return error_at(file, h.line, element_spelling(element) + " has no <source><address>");
    // libvirt takes an interface's kind of device from its source address type.
    if (element == PassthroughDevice::Element::Interface && !is_pci_address(src_addr))
        return error_at(file, pd.line_of(src_addr),
                        "<interface type='hostdev'> needs <source><address type='pci' .../>: hostdev passes "
                        "through PCI devices only (libvirt refuses a source address without a type)");
    auto src = PciAddress::from_libvirt(attr_value(src_addr, "domain"), attr_value(src_addr, "bus"),
                                        attr_value(src_addr, "slot"), attr_value(src_addr, "function"));
    if (!src) return error_at(file, pd.line_of(src_addr), src.error().message);
    h.source = *src;
    if (pugi::xml_node drv = hd.child("driver")) {
        if (auto name = attr_value(drv, "name")) h.driver_name = std::string(*name);
        if (auto model = attr_value(drv, "model")) h.driver_model = std::string(*model);
    }
    h.has_rom = static_cast<bool>(hd.child("rom"));
    if (pugi::xml_node ga = hd.child("address"); is_pci_address(ga)) {
        auto guest = guest_address_of(pd, hd, ga, file);
        if (!guest) return guest.error();
        h.guest_address = guest->address;
        h.guest_multifunction = guest->multifunction;
    }
    if (pugi::xml_node boot = hd.child("boot")) {
        // libvirt reads the boot order in decimal and refuses 0.
        auto order = attr_value(boot, "order");
        auto n = order ? parse_libvirt_number(*order, "boot order", 0xffffffffUL, NumberBase::Decimal)
                       : Result<unsigned long>(make_error("<boot> has no order attribute"));
        if (n && *n == 0) n = make_error("boot order='" + std::string(*order) + "' must be at least 1");
        if (!n) return error_at(file, pd.line_of(boot), n.error().message);
        h.boot_order = static_cast<unsigned>(*n);
    }
    if (pugi::xml_node alias = hd.child("alias"))
        if (auto name = attr_value(alias, "name")) h.alias = std::string(*name);
    return h;
}

// Which kind of passthrough element `dev` is, if any; counts the other hostdevs.
std::optional<PassthroughDevice::Element> passthrough_element(const pugi::xml_node& dev, Domain& d) {
    const std::string_view name = dev.name();
    auto type = attr_value(dev, "type");
    if (name == "interface") {
        if (type == std::optional<std::string_view>("hostdev")) return PassthroughDevice::Element::Interface;
        return std::nullopt;
    }
    if (name != "hostdev") return std::nullopt;
    auto mode = attr_value(dev, "mode");
    if ((mode && *mode != "subsystem") || type != std::optional<std::string_view>("pci")) {
        ++d.other_hostdevs;
        return std::nullopt;
    }
    return PassthroughDevice::Element::Hostdev;
}

// Every device under <devices>: the PCI hostdevs and hostdev interfaces, the other hostdevs, and the
// guest PCI address of each device (libvirt reads a device's first <address>
// child, of whatever type, and no other).
Status read_devices(ParsedDomain& pd, const pugi::xml_node& root, std::string_view file) {
    Domain& d = pd.domain;
    for (pugi::xml_node devices : root.children("devices")) {
        for (pugi::xml_node dev : devices.children()) {
            if (dev.type() != pugi::node_element) continue;
            if (pugi::xml_node a = dev.child("address"); is_pci_address(a)) {
                auto g = guest_address_of(pd, dev, a, file);
                if (!g) return g.error();
                if (!libvirt_chooses(g->address)) d.guest_pci_addresses.push_back(std::move(*g));
            }
            if (std::string_view(dev.name()) == "controller" &&
                attr_value(dev, "type") == std::optional<std::string_view>("pci")) {
                PciController c;
                c.line = pd.line_of(dev);
                auto index = attr_value(dev, "index");
                // libvirt requires index= on a PCI controller; one without
                // it is left to the schema.
                auto n = index ? parse_libvirt_number(*index, "controller index", 0xffffffffUL)
                               : Result<unsigned long>(make_error("no index"));
                if (n) {
                    c.index = static_cast<unsigned>(*n);
                    c.model = std::string(attr_value(dev, "model").value_or(""));
                    c.hotplug = attr_value(dev.child("target"), "hotplug") != std::optional<std::string_view>("off");
                    d.pci_controllers.push_back(std::move(c));
                }
            }
            auto element = passthrough_element(dev, d);
            if (!element) continue;
            auto h = pci_hostdev_of(pd, dev, *element, file);
            if (!h) return h.error();
            d.passthrough.push_back(std::move(*h));
            pd.passthrough_nodes.push_back(dev);
        }
    }
    return ok_status();
}

// Every <interface type='network'> with its network's name (one without a
// <source network> is left to the schema, which refuses it).
void read_network_interfaces(const ParsedDomain& pd, const pugi::xml_node& root, Domain& d) {
    for (pugi::xml_node devices : root.children("devices"))
        for (pugi::xml_node i : devices.children("interface")) {
            if (attr_value(i, "type") != std::optional<std::string_view>("network")) continue;
            if (auto net = attr_value(i.child("source"), "network"))
                d.network_interfaces.push_back(NetworkInterface{std::string(*net), pd.line_of(i)});
        }
}

// The namespace URI of an element's name as XML Namespaces resolves it: the
// nearest xmlns:PREFIX (or xmlns, for a name without a prefix) on the element
// or an ancestor. `local` receives the name without its prefix.
std::optional<std::string_view> namespace_of(const pugi::xml_node& node, std::string_view& local) {
    const std::string_view name = node.name();
    const std::size_t colon = name.find(':');
    local = colon == std::string_view::npos ? name : name.substr(colon + 1);
    const std::string decl =
        colon == std::string_view::npos ? std::string("xmlns") : "xmlns:" + std::string(name.substr(0, colon));
    for (pugi::xml_node n = node; n.type() == pugi::node_element; n = n.parent())
        if (pugi::xml_attribute a = n.attribute(decl.c_str())) {
            if (*a.value() == '\0') return std::nullopt;
            return std::string_view(a.value());
        }
    return std::nullopt;
}

bool is_element(const pugi::xml_node& node, std::string_view ns, std::string_view name) {
    std::string_view local;
    return node.type() == pugi::node_element && namespace_of(node, local) == std::optional(ns) && local == name;
}

// The first <os id=...> of the libosinfo metadata, as virt-install and
// virt-manager write it.
std::optional<GuestOs> libosinfo_os(const ParsedDomain& pd, const pugi::xml_node& root) {
    constexpr std::string_view kLibosinfoNs = "http://libosinfo.org/xmlns/libvirt/domain/1.0";
    constexpr std::string_view kWindowsIds = "http://microsoft.com/win/";
    for (pugi::xml_node md : root.children("metadata"))
        for (pugi::xml_node info : md.children()) {
            if (!is_element(info, kLibosinfoNs, "libosinfo")) continue;
            for (pugi::xml_node os : info.children()) {
                if (!is_element(os, kLibosinfoNs, "os") || !os.attribute("id")) continue;
                GuestOs g;
                g.id = os.attribute("id").value();
                g.kind = g.id.rfind(kWindowsIds, 0) == 0 ? GuestOs::Kind::Windows : GuestOs::Kind::Other;
                g.source = GuestOs::Source::Libosinfo;
                g.line = pd.line_of(os);
                return g;
            }
        }
    return std::nullopt;
}

// A pin attribute holding a hexadecimal number up to `max` ("0x10de", "10de").
Result<std::optional<std::uint32_t>> pin_number(const pugi::xml_node& n, const char* name, std::uint32_t max) {
    auto v = attr_value(n, name);
    if (!v) return std::optional<std::uint32_t>();
    std::string_view t = *v;
    if (t.substr(0, 2) == "0x" || t.substr(0, 2) == "0X") t.remove_prefix(2);
    std::uint64_t value = 0;
    bool digits = !t.empty() && t.size() <= 8;
    for (char c : t) {
        const int h = hex_digit(c);
        if (h < 0) digits = false;
        value = value * 16 + static_cast<std::uint64_t>(h < 0 ? 0 : h);
    }
    if (!digits || value > max)
        return make_error(std::string(name) + "='" + std::string(*v) + "' is not a hexadecimal number up to 0x" +
                          hex(max, 1));
    return std::optional<std::uint32_t>(static_cast<std::uint32_t>(value));
}

std::optional<std::string> pin_text(const pugi::xml_node& n, const char* name) {
    auto v = attr_value(n, name);
    if (!v || v->empty()) return std::nullopt;
    return std::string(*v);
}

template <typename T>
std::optional<T> narrow(const std::optional<std::uint32_t>& v) {
    return v ? std::optional<T>(static_cast<T>(*v)) : std::nullopt;
}

Result<DevicePin> pin_of(const ParsedDomain& pd, const pugi::xml_node& n, std::string_view file) {
    DevicePin pin;
    pin.line = pd.line_of(n);
    auto where = [&](const std::string& what) { return error_at(file, pin.line, "device pin: " + what); };
    auto address = attr_value(n, "address");
    if (!address) return where("<device> without address=");
    auto a = PciAddress::parse(*address);
    if (!a) return where("address='" + std::string(*address) + "': " + a.error().message);
    pin.address = *a;
    DeviceIdentity& id = pin.identity;
    std::optional<std::uint32_t> v[6];
    const std::pair<const char*, std::uint32_t> fields[6] = {{"vendor", 0xffff},           {"device", 0xffff},
                                                             {"subsystem-vendor", 0xffff}, {"subsystem-device", 0xffff},
                                                             {"class", 0xffffff},          {"revision", 0xff}};
    for (std::size_t i = 0; i < 6; ++i) {
        auto value = pin_number(n, fields[i].first, fields[i].second);
        if (!value) return where(pin.address.str() + ": " + value.error().message);
        v[i] = *value;
    }
    if (v[2].has_value() != v[3].has_value())
        return where(pin.address.str() + ": subsystem-vendor and subsystem-device go together");
    id.vendor = narrow<std::uint16_t>(v[0]);
    id.device = narrow<std::uint16_t>(v[1]);
    id.subsystem_vendor = narrow<std::uint16_t>(v[2]);
    id.subsystem_device = narrow<std::uint16_t>(v[3]);
    id.class_code = v[4];
    id.revision = narrow<std::uint8_t>(v[5]);
    id.slot_path = pin_text(n, "slot-path");
    id.serials.dsn = pin_text(n, "dsn");
    id.serials.nvme = pin_text(n, "nvme-serial");
    id.serials.mac = pin_text(n, "mac");
    return pin;
}

// The first <pins> of hostdev's namespace in <metadata> (domain.hpp, DevicePin).
Status read_pins(ParsedDomain& pd, const pugi::xml_node& root, std::string_view file) {
    for (pugi::xml_node md : root.children("metadata"))
        for (pugi::xml_node pins : md.children()) {
            if (!is_element(pins, kPinNamespace, "pins")) continue;
            pd.pins_node = pins;
            for (pugi::xml_node n : pins.children()) {
                if (!is_element(n, kPinNamespace, "device")) continue;
                auto pin = pin_of(pd, n, file);
                if (!pin) return pin.error();
                if (pd.domain.pin_of(pin->address))
                    return error_at(file, pin->line, "device pin: " + pin->address.str() + " is pinned twice");
                pd.domain.pins.push_back(std::move(*pin));
            }
            return ok_status();
        }
    return ok_status();
}

// Without libosinfo metadata: the Windows-only signs (domain.hpp, GuestOs).
GuestOs guest_os_of(const ParsedDomain& pd, const pugi::xml_node& root) {
    if (auto g = libosinfo_os(pd, root)) return *g;
    GuestOs g;
    if (pugi::xml_node hv = root.child("features").child("hyperv")) {
        bool on = std::string_view(hv.attribute("mode").value()) == "passthrough";
        for (pugi::xml_node e : hv.children())
            if (e.type() == pugi::node_element && std::string_view(e.attribute("state").value()) == "on") on = true;
        if (on) return GuestOs{GuestOs::Kind::Windows, GuestOs::Source::Hyperv, "", pd.line_of(hv)};
    }
    for (pugi::xml_node t : root.child("clock").children("timer"))
        if (std::string_view(t.attribute("name").value()) == "hypervclock" &&
            std::string_view(t.attribute("present").value()) == "yes")
            return GuestOs{GuestOs::Kind::Windows, GuestOs::Source::HypervClock, "", pd.line_of(t)};
    return g;
}

}  // namespace

Result<std::unique_ptr<ParsedDomain>> parse_domain_document(std::string_view text, std::string_view file) {
    auto pd = std::make_unique<ParsedDomain>(text);
    HOSTDEV_TRY(load_document(*pd, file, kDomainDocument));
    pugi::xml_node root = pd->doc.document_element();
    Domain& d = pd->domain;
    d.type = root.attribute("type").value();
    d.name = root.child("name").text().get();
    d.uuid = root.child("uuid").text().get();
    HOSTDEV_TRY(read_devices(*pd, root, file));
    if (pugi::xml_node features = root.child("features")) {
        d.has_features = true;
        if (pugi::xml_node hidden = features.child("kvm").child("hidden"))
            d.kvm_hidden_state = std::string(hidden.attribute("state").value());
    }
    d.guest_os = guest_os_of(*pd, root);
    read_network_interfaces(*pd, root, d);
    HOSTDEV_TRY(read_pins(*pd, root, file));
    return pd;
}

}  // namespace detail

const DevicePin* Domain::pin_of(const PciAddress& address) const {
    auto it = std::find_if(pins.begin(), pins.end(), [&](const DevicePin& p) { return p.address == address; });
    return it == pins.end() ? nullptr : &*it;
}

std::string_view to_string(PassthroughDevice::Element e) {
    switch (e) {
        case PassthroughDevice::Element::Hostdev: return "hostdev";
        case PassthroughDevice::Element::Interface: return "interface";
    }
    return "hostdev";
}

Result<Domain> parse_domain_xml(std::string_view text, std::string_view filename) {
    auto pd = detail::parse_domain_document(text, filename);
    if (!pd) return pd.error();
    return std::move((*pd)->domain);
}

}  // namespace hostdev
