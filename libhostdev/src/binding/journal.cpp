#include "hostdev/binding/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <set>
#include <thread>
#include <variant>

#include <nlohmann/json.hpp>

#include "hostdev/base/fileio.hpp"
#include "hostdev/base/json_reader.hpp"
#include "hostdev/base/text.hpp"
#include "hostdev/host/parse.hpp"

namespace hostdev {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- Owner

Result<Owner> Owner::domain(std::string_view uuid, std::string_view name) {
    // libvirt accepts hex digits with dashes anywhere; keep the 32 digits and
    // write them canonically. Anything else cannot name a journal file.
    std::string hex;
    for (char c : uuid) {
        if (c == '-') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c)) || hex.size() == 32)
            return make_error("invalid domain UUID '" + std::string(uuid) + "'");
        hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (hex.size() != 32) return make_error("invalid domain UUID '" + std::string(uuid) + "'");
    Owner o;
    o.key = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
            hex.substr(20);
    o.name = std::string(name);
    return o;
}

Owner Owner::manual() {
    Owner o;
    o.key = "manual";
    return o;
}

std::string Owner::describe() const {
    if (is_manual()) return "manual detach (hostdev detach)";
    return "domain '" + name + "' (" + key + ")";
}

bool domain_running(const FsRoot& root, const Owner& owner) {
    if (owner.is_manual()) return true;
    auto pids = root.list_dir(root.proc());
    if (!pids) return false;
    const std::string needle = std::string("-uuid") + '\0' + owner.key + '\0';
    for (const auto& p : *pids) {
        if (p.empty() || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
        auto cmd = root.read_file(root.proc(p + "/cmdline"), 256 * 1024);
        if (cmd && cmd->find(needle) != std::string::npos) return true;
    }
    return false;
}

namespace journal {

std::string Starter::describe() const {
    return (name.empty() ? std::string("the libvirt daemon") : name) + " (pid " + std::to_string(pid) + ")";
}

namespace {
Result<std::string> read_stat(const FsRoot& root, int pid) {
    return root.read_file(root.proc(std::to_string(pid) + "/stat"), 4096);
}
}  // namespace

Starter starter_of(const FsRoot& root, int pid) {
    Starter s;
    s.pid = pid;
    if (auto stat = read_stat(root, pid)) s.start_time = parse::process_start_time(*stat);
    if (auto comm = root.read_file(root.proc(std::to_string(pid) + "/comm"), 256)) s.name = parse::process_comm(*comm);
    return s;
}

bool starter_alive(const FsRoot& root, const Starter& starter) {
    if (starter.pid <= 0) return false;
    auto stat = read_stat(root, starter.pid);
    if (!stat) return false;
    if (!starter.start_time) return true;  // recorded without one: the PID is all there is
    return parse::process_start_time(*stat) == starter.start_time;
}

bool being_started(const FsRoot& root, const Journal& j) { return j.starting && starter_alive(root, *j.starting); }

using Json = nlohmann::json;
using nlohmann::ordered_json;
namespace jr = hostdev::json;

namespace {

constexpr std::size_t kMaxJournalBytes = 1u << 20;  // a journal of 256 devices is some 50 KiB
constexpr std::string_view kFormat = "hostdev-journal";
constexpr int kVersion = 1;

bool is_journal_name(std::string_view n) { return n.size() > 5 && n[0] != '.' && n.substr(n.size() - 5) == ".json"; }

// A driver name as a journal may record it: it names a directory under
// sys/bus/pci/drivers, so it is one path component of printable characters.
bool valid_driver_name(std::string_view s) {
    if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f && c != '/';
    });
}

// original_driver and original_override must be present, as a name or null
// (null: unbound, "(null)"): a missing key is a damaged journal, not "none".
std::optional<std::string> read_name(jr::Fields& f, const Json& raw, std::string_view key) {
    if (!raw.contains(key)) {
        f.fail(key, "missing (expected a driver name or null)");
        return std::nullopt;
    }
    auto v = f.string(key);
    if (v && !valid_driver_name(*v)) {
        f.fail(key, "not a driver name (one path component of printable characters)");
        return std::nullopt;
    }
    return v;
}

// The detach steps a device has, by its recorded original driver (binder.hpp).
std::vector<int> steps_of(const Device& d) {
    return d.original_driver ? std::vector<int>{1, 2, 3} : std::vector<int>{1, 3};
}

void check_steps(jr::Fields& f, const Device& d) {
    const auto all = steps_of(d);
    if (d.done.size() > all.size() || !std::equal(d.done.begin(), d.done.end(), all.begin())) {
        std::vector<std::string> names;
        for (int n : all) names.push_back(std::to_string(n));
        f.fail("done", "not the device's steps in order (" + join(names) + ")");
        return;
    }
    if (d.doing && (d.done.size() == all.size() || *d.doing != all[d.done.size()]))
        f.fail("doing", "not the step after the completed ones");
}

std::optional<Device> parse_device(const Json& raw, const std::string& source, const std::string& path,
                                   jr::Fields& parent) {
    jr::Fields f(raw, source, path);
    Device d;
    if (auto a = f.string("address", jr::Need::Required)) {
        auto parsed = PciAddress::parse(*a);
        if (parsed)
            d.address = *parsed;
        else
            f.fail("address", "not a PCI address (" + parsed.error().message + ")");
    }
    d.group = static_cast<int>(f.integer("group", -1, INT_MAX, jr::Need::Required).value_or(-1));
    d.original_driver = read_name(f, raw, "original_driver");
    d.original_override = read_name(f, raw, "original_override");
    if (raw.contains("vfio_driver")) {
        d.vfio_driver = f.string("vfio_driver", jr::Need::Required);
        if (d.vfio_driver && !valid_driver_name(*d.vfio_driver)) {
            f.fail("vfio_driver", "not a driver name (one path component of printable characters)");
            d.vfio_driver.reset();
        }
    }
    for (auto s : f.integers("done", 1, 3).value_or(std::vector<std::int64_t>{})) d.done.push_back(static_cast<int>(s));
    if (auto s = f.integer("doing", 1, 3)) d.doing = static_cast<int>(*s);
    d.pending = f.boolean("pending").value_or(false);
    if (f.ok()) check_steps(f, d);
    parent.absorb(f);
    if (!f.ok()) return std::nullopt;
    return d;
}

bool valid_unit(std::string_view s) { return parse::valid_unit_name(s); }

std::optional<Handoff> parse_handoff(jr::Fields& top) {
    auto f = top.object("handoff");
    if (!f) return std::nullopt;
    Handoff h;
    if (auto a = f->string("gpu", jr::Need::Required)) {
        if (auto parsed = PciAddress::parse(*a))
            h.gpu = *parsed;
        else
            f->fail("gpu", "not a PCI address (" + parsed.error().message + ")");
    }
    h.stopped_unit = f->string("stopped_unit");
    if (h.stopped_unit && !valid_unit(*h.stopped_unit)) f->fail("stopped_unit", "not a service unit name");
    h.nodes = f->strings("nodes").value_or(std::vector<std::string>{});
    for (const auto& n : h.nodes)
        if (n.rfind("/dev/", 0) != 0 || n.find("..") != std::string::npos) f->fail("nodes", "not a device node");
    for (auto c : f->integers("consoles", 0, 63).value_or(std::vector<std::int64_t>{}))
        h.consoles.push_back(static_cast<int>(c));
    if (const Json* fw = f->array("firmware")) {
        for (std::size_t i = 0; i < fw->size() && f->ok(); ++i) {
            jr::Fields e((*fw)[i], f->file(), jr::element(f->path(), "firmware", i));
            auto dev = e.string("device", jr::Need::Required);
            auto drv = e.string("driver", jr::Need::Required);
            if (dev && !parse::is_firmware_framebuffer_device(*dev))
                e.fail("device", "not a firmware framebuffer device");
            if (drv && !valid_driver_name(*drv)) e.fail("driver", "not a driver name");
            f->absorb(e);
            if (e.ok()) h.firmware.push_back({*dev, *drv});
        }
    }
    auto modules = [&](std::string_view key) {
        auto v = f->strings(key).value_or(std::vector<std::string>{});
        for (const auto& m : v)
            if (!valid_driver_name(m)) f->fail(key, "not a module name");
        return v;
    };
    h.modules_before = modules("modules_before");
    h.modules_after = modules("modules_after");
    for (auto s : f->integers("done", 1, 6).value_or(std::vector<std::int64_t>{}))
        h.done.push_back(static_cast<int>(s));
    if (auto s = f->integer("doing", 1, 6)) h.doing = static_cast<int>(*s);
    if (f->ok()) {
        const auto all = h.steps();
        if (h.done.size() > all.size() || !std::equal(h.done.begin(), h.done.end(), all.begin()))
            f->fail("done", "not the handoff's steps in order");
        else if (h.doing && (h.done.size() == all.size() || *h.doing != all[h.done.size()]))
            f->fail("doing", "not the step after the completed ones");
    }
    top.absorb(*f);
    if (!f->ok()) return std::nullopt;
    return h;
}

std::optional<Starter> parse_starting(jr::Fields& top) {
    auto f = top.object("starting");
    if (!f) return std::nullopt;
    Starter st;
    if (auto pid = f->integer("pid", 1, INT_MAX, jr::Need::Required)) st.pid = static_cast<int>(*pid);
    if (auto t = f->integer("start_time", 0, INT64_MAX)) st.start_time = static_cast<std::uint64_t>(*t);
    st.name = parse::process_comm(f->string("name").value_or(""));
    top.absorb(*f);
    if (!f->ok()) return std::nullopt;
    return st;
}

Result<Owner> parse_owner(jr::Fields& top) {
    auto of = top.object("owner", jr::Need::Required);
    if (!of) return make_error("");
    auto key = of->string("key", jr::Need::Required);
    auto name = of->string("name").value_or("");
    top.absorb(*of);
    if (!key) return make_error("");
    if (*key == "manual") return Owner::manual();
    auto o = Owner::domain(*key, name);
    if (!o) top.fail("owner.key", "not a UUID or \"manual\"");
    return o;
}

void parse_devices(jr::Fields& top, const std::string& source, Journal& j) {
    const Json* devs = top.array("devices", jr::Need::Required);
    if (!devs) return;
    std::set<PciAddress> seen;
    for (std::size_t i = 0; i < devs->size() && top.ok(); ++i) {
        const std::string path = jr::element("", "devices", i);
        auto d = parse_device((*devs)[i], source, path, top);
        if (!d) return;
        if (!seen.insert(d->address).second) {
            top.fail(path + ".address", d->address.str() + " appears twice");
            return;
        }
        j.devices.push_back(std::move(*d));
    }
}

}  // namespace

std::vector<int> Handoff::steps() const {
    std::vector<int> out;
    if (stopped_unit) out.push_back(1);
    if (!nodes.empty()) out.push_back(2);
    if (!consoles.empty()) out.push_back(3);
    if (!firmware.empty()) out.push_back(4);
    if (!modules_before.empty()) out.push_back(5);
    if (!modules_after.empty()) out.push_back(6);
    return out;
}

Device* Journal::find(const PciAddress& a) {
    for (auto& d : devices)
        if (d.address == a) return &d;
    return nullptr;
}

const Device* Journal::find(const PciAddress& a) const {
    for (const auto& d : devices)
        if (d.address == a) return &d;
    return nullptr;
}

std::string file_name(const Owner& owner) { return owner.key + ".json"; }

Result<Journal> parse(std::string_view text, const std::string& source) {
    auto doc = jr::parse_strict(text, source);
    if (!doc) return doc.error();
    jr::Fields top(*doc, source);
    auto format = top.string("format", jr::Need::Required);
    if (top.ok() && *format != kFormat) top.fail("format", "expected \"hostdev-journal\"");
    if (auto v = top.integer("version", INT64_MIN, INT64_MAX, jr::Need::Required); v && *v != kVersion)
        top.fail("version", "unsupported version " + std::to_string(*v) + " (this hostdev reads version 1)");
    if (top.error()) return *top.error();
    Journal j;
    auto owner = parse_owner(top);
    if (owner) j.owner = *owner;
    auto state = top.string("state", jr::Need::Required);
    if (state && *state != kDetaching && *state != kDetached && *state != kRollingBack && *state != kReattaching)
        top.fail("state", "unknown state \"" + *state + "\"");
    if (state) j.state = *state;
    (void)top.integer("pid", 0, INT_MAX);
    parse_devices(top, source, j);
    if (top.ok()) j.handoff = parse_handoff(top);
    if (top.ok()) j.starting = parse_starting(top);
    if (top.ok() && j.starting && j.owner.is_manual()) top.fail("starting", "a manual detach has no libvirt daemon");
    if (top.error()) return *top.error();
    return j;
}

std::string serialize(const Journal& j) {
    auto name_or_null = [](const std::optional<std::string>& s) {
        return s ? ordered_json(*s) : ordered_json(nullptr);
    };
    ordered_json o;
    o["format"] = kFormat;
    o["version"] = kVersion;
    o["owner"] = {{"key", j.owner.key}, {"name", j.owner.name}};
    o["state"] = j.state;
    o["pid"] = static_cast<long>(::getpid());
    ordered_json devs = ordered_json::array();
    for (const auto& d : j.devices) {
        ordered_json e = {{"address", d.address.str()},
                          {"group", d.group},
                          {"original_driver", name_or_null(d.original_driver)},
                          {"original_override", name_or_null(d.original_override)}};
        if (d.vfio_driver) e["vfio_driver"] = *d.vfio_driver;
        e["done"] = d.done;
        if (d.doing) e["doing"] = *d.doing;
        if (d.pending) e["pending"] = true;
        devs.push_back(std::move(e));
    }
    o["devices"] = devs;
    if (j.handoff) {
        const Handoff& h = *j.handoff;
        ordered_json e = {{"gpu", h.gpu.str()}};
        if (h.stopped_unit) e["stopped_unit"] = *h.stopped_unit;
        e["nodes"] = h.nodes;
        e["consoles"] = h.consoles;
        ordered_json fw = ordered_json::array();
        for (const auto& f : h.firmware) fw.push_back({{"device", f.device}, {"driver", f.driver}});
        e["firmware"] = fw;
        e["modules_before"] = h.modules_before;
        e["modules_after"] = h.modules_after;
        e["done"] = h.done;
        if (h.doing) e["doing"] = *h.doing;
        o["handoff"] = std::move(e);
    }
    if (j.starting) {
        ordered_json e = {{"pid", j.starting->pid}};
        if (j.starting->start_time) e["start_time"] = *j.starting->start_time;
        e["name"] = j.starting->name;
        o["starting"] = std::move(e);
    }
    // A domain name is libvirt's and valid UTF-8; should one not be, it is
    // written with replacement characters rather than failing the write.
    return json::to_text(o);
}

std::vector<PciAddress> mentioned_addresses(std::string_view text) {
    // DDDD:BB:SS.F with a domain of 4 to 8 hex digits, as sysfs spells it.
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    std::set<PciAddress> found;
    for (std::size_t i = 0; i + 12 <= text.size(); ++i) {
        if (!hex(text[i]) || (i > 0 && hex(text[i - 1]))) continue;
        std::size_t n = 0;
        while (i + n < text.size() && hex(text[i + n]) && n < 9) ++n;
        if (n < 4 || n > 8 || i + n + 8 > text.size()) continue;
        std::string_view rest = text.substr(i + n, 8);  // ":BB:SS.F"
        if (rest[0] != ':' || !hex(rest[1]) || !hex(rest[2]) || rest[3] != ':' || !hex(rest[4]) || !hex(rest[5]) ||
            rest[6] != '.' || rest[7] < '0' || rest[7] > '7')
            continue;
        if (auto a = PciAddress::parse(text.substr(i, n + 8))) found.insert(*a);
    }
    return {found.begin(), found.end()};
}

std::string Unreadable::describe() const {
    std::string s = path.string() + " is not a readable journal (" + error.describe() + ")";
    if (!mentioned.empty()) {
        std::vector<std::string> a;
        for (const auto& m : mentioned) a.push_back(m.str());
        s += "; it names " + join(a, ", ");
    }
    return s +
           "; until it is retired, a device on vfio-pci that no readable journal holds is not taken. "
           "Check the devices, return them by hand, then run `hostdev recover --retire " +
           path.string() + "` (README: unreadable journals)";
}

// ---------------------------------------------------------------- Directory

namespace {

bool below(const FsRoot& root, const fs::path& p) {
    if (root.is_live()) return true;
    const std::string s = p.string(), r = root.root().string();
    return s == r || (s.size() > r.size() && s.compare(0, r.size(), r) == 0 && s[r.size()] == '/');
}

// open(2) of a directory path: inside the root when it lies below it, else
// as the path says (a journal_dir set apart from the root).
Result<Fd> open_path(const FsRoot& root, const fs::path& p, int flags) {
    if (below(root, p)) return root.open(p, flags);
    int fd = ::open(p.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return make_error("cannot open", p.string(), errno);
    return Fd(fd);
}

// mkdir -p, each directory made relative to its parent opened inside the root.
Status make_dirs(const FsRoot& root, const fs::path& dir, mode_t mode) {
    auto fd = open_path(root, dir, O_PATH | O_DIRECTORY);
    if (fd) return ok_status();
    const fs::path up = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
    if (fd.error().err != ENOENT || dir == up) return fd.error();
    HOSTDEV_TRY(make_dirs(root, up, 0755));
    auto parent = open_path(root, up, O_PATH | O_DIRECTORY);
    if (!parent) return parent.error();
    if (::mkdirat(parent->get(), dir.filename().c_str(), mode) != 0 && errno != EEXIST)
        return make_error("cannot create directory", dir.string(), errno);
    return ok_status();
}

Status check_directory(const Fd& fd, const std::string& shown, Directory::Create create) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return make_error("cannot stat journal directory", shown, errno);
    if (st.st_uid != ::geteuid())
        return make_error("journal directory " + shown + " is owned by uid " + std::to_string(st.st_uid) +
                          ", not by uid " + std::to_string(::geteuid()) +
                          " that runs hostdev: its journals are not trusted (make it root's with "
                          "`chown root: " +
                          shown + "`, or set journal_dir elsewhere)");
    if (create == Directory::Create::Yes && (st.st_mode & 077) != 0 && ::fchmod(fd.get(), 0700) != 0)
        return make_error("cannot make the journal directory private (mode 0700)", shown, errno);
    return ok_status();
}

const char* kind_of(mode_t m) {
    return S_ISFIFO(m)   ? "is a FIFO"
           : S_ISDIR(m)  ? "is a directory"
           : S_ISSOCK(m) ? "is a socket"
           : S_ISLNK(m)  ? "is a symbolic link (not followed)"
                         : "is a device node";
}

// An entry of the directory, opened only if it is a regular file: a device
// node is never opened, a FIFO never blocks (O_NONBLOCK) and a link is never
// followed (O_NOFOLLOW); fstat after the open checks the file it got.
Result<Fd> open_entry(int dirfd, const std::string& name, const fs::path& shown, int flags) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
        return make_error(std::string(kind_of(st.st_mode)) + ", not a regular file", shown.string());
    int fd = ::openat(dirfd, name.c_str(), flags | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == ELOOP) return make_error("is a symbolic link (not followed), not a regular file", shown.string());
        return make_error("cannot open", shown.string(), errno);
    }
    Fd owned(fd);
    if (::fstat(fd, &st) != 0) return make_error("cannot stat", shown.string(), errno);
    if (!S_ISREG(st.st_mode))
        return make_error(std::string(kind_of(st.st_mode)) + ", not a regular file", shown.string());
    return owned;
}

}  // namespace

Result<Directory> Directory::open(const FsRoot& root, const fs::path& dir, Create create) {
    // Messages name the full path: with --root it is the one to look at.
    const std::string shown = dir.string();
    if (create == Create::Yes) {
        if (auto st = make_dirs(root, dir, 0700); !st)
            return st.error().context("cannot create journal directory " + shown);
    }
    auto fd = open_path(root, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd) {
        const int e = fd.error().err;
        if (e == ENOENT && create == Create::No) return Directory(dir, Fd());
        struct stat st {};
        auto self = open_path(root, dir, O_PATH | O_NOFOLLOW);  // the entry itself, a link not followed
        if ((e == ELOOP || e == ENOTDIR) && self && ::fstat(self->get(), &st) == 0 && S_ISLNK(st.st_mode))
            return make_error("journal directory " + shown +
                              " is a symbolic link: refused (remove it; hostdev creates the directory)");
        if (e == ENOTDIR) return make_error("journal directory " + shown + " is not a directory", shown);
        return make_error("cannot open journal directory", shown, e);
    }
    HOSTDEV_TRY(check_directory(*fd, shown, create));
    return Directory(dir, std::move(*fd));
}

Result<Lock> Directory::lock(std::chrono::milliseconds timeout) const {
    const fs::path p = path_ / "lock";
    if (!exists()) return make_error("no journal directory", path_.string(), ENOENT);
    auto fd = open_entry(fd_.get(), "lock", p, O_RDWR | O_CREAT);
    if (!fd) return fd.error().context("cannot use the lock file");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) return make_error("cannot lock", p.string(), errno);
        if (std::chrono::steady_clock::now() >= deadline)
            return make_error(
                "another hostdev run holds the lock; gave up after " + std::to_string(timeout.count()) + " ms",
                p.string(), EWOULDBLOCK);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Lock(std::move(*fd));
}

namespace {

// Why an entry is unreadable, without its path (Unreadable names it once).
Error reason(Error e, const fs::path& full) {
    const std::string p = full.string();
    if (e.path == p) e.path.clear();
    if (e.message.compare(0, p.size() + 2, p + ": ") == 0) e.message.erase(0, p.size() + 2);
    return e;
}

// One entry as a journal, or what makes it unreadable.
std::variant<Journal, Unreadable> read_entry(int dirfd, const std::string& name, const fs::path& full) {
    auto fd = open_entry(dirfd, name, full, O_RDONLY);
    if (!fd) return Unreadable{full, reason(fd.error(), full), {}};
    auto text = fileio::read_fd(fd->get(), full, kMaxJournalBytes + 1);
    if (!text) return Unreadable{full, reason(text.error(), full), {}};
    if (text->size() > kMaxJournalBytes)
        return Unreadable{full, make_error("larger than 1 MiB"), mentioned_addresses(*text)};
    auto j = parse(*text, full.string());
    if (!j) return Unreadable{full, reason(j.error(), full), mentioned_addresses(*text)};
    if (file_name(j->owner) != name)
        return Unreadable{full,
                          make_error("owner.key: names " + j->owner.key + ", whose journal is " + file_name(j->owner)),
                          mentioned_addresses(*text)};
    return std::move(*j);
}

}  // namespace

Result<Contents> Directory::read_all() const {
    Contents out;
    if (!exists()) return out;
    int fd = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return make_error("cannot list journal directory", path_.string(), errno);
    auto names = fileio::list_dir_fd(fd, path_);
    if (!names) return names.error();
    for (const auto& n : *names) {
        if (!is_journal_name(n)) continue;
        auto e = read_entry(fd_.get(), n, path_ / n);
        if (auto* j = std::get_if<Journal>(&e))
            out.journals.push_back(std::move(*j));
        else
            out.unreadable.push_back(std::move(std::get<Unreadable>(e)));
    }
    return out;
}

Result<std::optional<Journal>> Directory::read(const Owner& owner) const {
    if (!exists()) return std::optional<Journal>{};
    const std::string name = file_name(owner);
    struct stat st {};
    if (::fstatat(fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
        return std::optional<Journal>{};
    auto e = read_entry(fd_.get(), name, path_ / name);
    if (auto* j = std::get_if<Journal>(&e)) return std::optional<Journal>(std::move(*j));
    return make_error(std::get<Unreadable>(e).describe());
}

bool Directory::any() const {
    if (!exists()) return false;
    int fd = ::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    auto names = fileio::list_dir_fd(fd, path_);
    return names && std::any_of(names->begin(), names->end(), [](const std::string& n) { return is_journal_name(n); });
}

Status Directory::save(const Journal& j) const {
    if (!exists()) return make_error("no journal directory", path_.string(), ENOENT);
    // Under the lock there is one writer: a fixed temporary name, cleared
    // first, also clears what a killed run left.
    const std::string name = file_name(j.owner);
    const std::string tmp = "." + name + ".tmp";
    const fs::path shown = path_ / name;
    if (::unlinkat(fd_.get(), tmp.c_str(), 0) != 0 && errno != ENOENT)
        return make_error("cannot remove stale temporary file", (path_ / tmp).string(), errno);
    int fd = ::openat(fd_.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return make_error("cannot create", (path_ / tmp).string(), errno);
    Fd owned(fd);
    const std::string text = serialize(j);
    for (std::size_t off = 0; off < text.size();) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int e = n < 0 ? errno : EIO;
            ::unlinkat(fd_.get(), tmp.c_str(), 0);
            return make_error("cannot write", (path_ / tmp).string(), e);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(owned.release()) != 0) {
        const int e = errno;
        ::unlinkat(fd_.get(), tmp.c_str(), 0);
        return make_error("cannot write", (path_ / tmp).string(), e);
    }
    if (::renameat(fd_.get(), tmp.c_str(), fd_.get(), name.c_str()) != 0) {
        const int e = errno;
        ::unlinkat(fd_.get(), tmp.c_str(), 0);
        return make_error("cannot rename temporary file onto", shown.string(), e);
    }
    if (::fsync(fd_.get()) != 0) return make_error("cannot fsync journal directory", path_.string(), errno);
    return ok_status();
}

Status Directory::remove(const Owner& owner) const {
    if (!exists()) return ok_status();
    const std::string name = file_name(owner);
    if (::unlinkat(fd_.get(), name.c_str(), 0) != 0 && errno != ENOENT)
        return make_error("cannot remove journal", (path_ / name).string(), errno);
    (void)::fsync(fd_.get());
    return ok_status();
}

Result<Unreadable> Directory::inspect(std::string_view name) const {
    const std::string n(name);
    if (!is_journal_name(n) || n.find('/') != std::string::npos)
        return make_error("not a journal file name (NAME.json in " + path_.string() + ")", n);
    if (!exists()) return make_error("no journal directory", path_.string(), ENOENT);
    struct stat st {};
    if (::fstatat(fd_.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return make_error("no such journal", (path_ / n).string(), errno);
    auto e = read_entry(fd_.get(), n, path_ / n);
    if (auto* j = std::get_if<Journal>(&e))
        return make_error((path_ / n).string() + " reads as the journal of " + j->owner.describe() +
                          ": return its devices with `hostdev reattach` or `hostdev recover` instead");
    return std::move(std::get<Unreadable>(e));
}

Result<std::string> Directory::retire(std::string_view name) const {
    HOSTDEV_TRY(inspect(name));
    const std::string from(name);
    // Never over an earlier retired file: it may be what an admin reads later.
    for (int i = 0; i < 1000; ++i) {
        const std::string to = from + ".retired" + (i == 0 ? std::string() : "." + std::to_string(i));
        struct stat st {};
        if (::fstatat(fd_.get(), to.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
        if (::renameat(fd_.get(), from.c_str(), fd_.get(), to.c_str()) != 0)
            return make_error("cannot rename " + from + " to " + to, path_.string(), errno);
        (void)::fsync(fd_.get());
        return to;
    }
    return make_error("too many retired copies of " + from, path_.string());
}

}  // namespace journal
}  // namespace hostdev
