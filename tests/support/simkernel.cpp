#include "simkernel.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace hostdev::testing {
namespace fs = std::filesystem;

namespace {

constexpr const char* kVfio = "vfio-pci";

// vfio-pci and the VFIO variant drivers (mlx5_vfio_pci, ...), which probe and
// own /dev/vfio/N as vfio-pci does.
bool is_vfio(const std::string& driver) {
    constexpr std::string_view suffix = "_vfio_pci";
    return driver == kVfio ||
           (driver.size() > suffix.size() && driver.compare(driver.size() - suffix.size(), suffix.size(), suffix) == 0);
}

std::optional<std::string> vfio_driver_of_module(std::string_view module) {
    if (module == "vfio-pci" || module == "vfio_pci") return std::string(kVfio);
    std::string name(module);
    std::replace(name.begin(), name.end(), '-', '_');
    if (is_vfio(name)) return name;
    return std::nullopt;
}

// The errno of a bind to a device that already has a driver. Kernels before 5.13 check
// dev->driver in bind_store and return ENODEV; later ones reach
// __driver_probe_device, which returns EBUSY.
constexpr int kBindWhenBoundErrno = EBUSY;

// sysfs_streq and driver_set_override: a value ends at its first newline.
std::string_view strip_newline(std::string_view value) {
    auto nl = value.find('\n');
    return nl == std::string_view::npos ? value : value.substr(0, nl);
}

// Drops exactly one trailing newline (for the log).
std::string_view drop_trailing_newline(std::string_view value) {
    if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
    return value;
}

std::optional<std::string> read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// driver_override contents: nullopt for "(null)" or an unreadable file.
std::optional<std::string> read_override(const fs::path& dev_dir) {
    auto text = read_text(dev_dir / "driver_override");
    if (!text) return std::nullopt;
    std::string value(strip_newline(*text));
    if (value == "(null)" || value.empty()) return std::nullopt;
    return value;
}

std::optional<std::string> current_driver(const fs::path& dev_dir) {
    std::error_code ec;
    fs::path target = fs::read_symlink(dev_dir / "driver", ec);
    if (ec) return std::nullopt;
    return target.filename().string();
}

std::optional<int> group_of(const fs::path& dev_dir) {
    std::error_code ec;
    fs::path target = fs::read_symlink(dev_dir / "iommu_group", ec);
    if (ec) return std::nullopt;
    const std::string name = target.filename().string();
    if (name.empty() || name.size() > 9 ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    return std::stoi(name);
}

// Config header type (byte 0x0e without the multi-function bit); 0 when unreadable.
int header_type(const fs::path& dev_dir) {
    auto config = read_text(dev_dir / "config");
    if (!config || config->size() <= 0x0e) return 0;
    return static_cast<unsigned char>((*config)[0x0e]) & 0x7f;
}

bool is_under(const fs::path& inner, const fs::path& outer) {
    auto i = inner.begin();
    for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
        if (i == inner.end() || *i != *o) return false;
    }
    return true;
}

// A relative symbolic link spelled as the builder (and sysfs) spell them.
Status make_link(const fs::path& link, const fs::path& target) {
    fs::path up = target.parent_path().lexically_relative(link.parent_path());
    fs::path value = (up.empty() || up == ".") ? target.filename() : up / target.filename();
    std::error_code ec;
    fs::remove(link, ec);  // a stale link left by a killed writer
    if (::symlink(value.c_str(), link.c_str()) != 0) {
        return make_error("cannot create symbolic link to " + value.string(), link.string(), errno);
    }
    return ok_status();
}

Status remove_path(const fs::path& path) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec) return make_error("cannot remove", path.string(), ec.value());
    return ok_status();
}

// Creates an empty regular file if missing.
Status touch(const fs::path& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return make_error("cannot create", path.string(), errno);
    ::close(fd);
    return ok_status();
}

// Rewrites an existing file (no creation), as a write to a plain attribute.
int overwrite(const fs::path& path, std::string_view value) {
    int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return errno;
    std::size_t done = 0;
    while (done < value.size()) {
        ssize_t n = ::write(fd, value.data() + done, value.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            return err;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) return errno;
    return 0;
}

// The kernel's spelling of a module: '-' and '_' are the same to modprobe and rmmod.
std::string module_name(std::string_view name) {
    std::string out(name);
    std::replace(out.begin(), out.end(), '-', '_');
    return out;
}

bool is_nvidia_module(const std::string& module) { return module == "nvidia" || module.rfind("nvidia_", 0) == 0; }

// One line of /proc/modules: "NAME SIZE REFCNT USERS, STATE OFFSET".
struct ModuleLine {
    std::string name;
    std::uint64_t size = 0;
    int refcount = 0;
    std::vector<std::string> users;
    std::string raw;  // a line that does not parse: kept as it was
};

std::vector<ModuleLine> parse_modules(const std::string& text) {
    std::vector<ModuleLine> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::istringstream words(line);
        ModuleLine m;
        std::string size, refcount, users;
        if (!(words >> m.name >> size >> refcount >> users) ||
            !std::all_of(size.begin(), size.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            !std::all_of(refcount.begin(), refcount.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            size.empty() || refcount.empty() || size.size() > 18 || refcount.size() > 9) {
            m.raw = line + "\n";
            out.push_back(std::move(m));
            continue;
        }
        m.size = std::stoull(size);
        m.refcount = std::stoi(refcount);
        if (users != "-") {
            std::size_t at = 0;
            while (at < users.size()) {
                std::size_t comma = users.find(',', at);
                if (comma == std::string::npos) comma = users.size();
                if (comma > at) m.users.push_back(users.substr(at, comma - at));
                at = comma + 1;
            }
        }
        out.push_back(std::move(m));
    }
    return out;
}

std::string format_modules(const std::vector<ModuleLine>& modules) {
    std::string out;
    for (const auto& m : modules) out += m.raw.empty() ? proc_modules_line(m.name, m.size, m.refcount, m.users) : m.raw;
    return out;
}

// A firmware framebuffer's platform device: efi-, vesa- or simple-framebuffer.N.
bool is_firmware_framebuffer(const std::string& name) {
    for (std::string_view prefix : {"efi-framebuffer.", "vesa-framebuffer.", "simple-framebuffer."}) {
        if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
            std::all_of(name.begin() + static_cast<long>(prefix.size()), name.end(),
                        [](char c) { return c >= '0' && c <= '9'; })) {
            return true;
        }
    }
    return false;
}

// platform_match by name: a platform driver drives the devices named after it
// (efi-framebuffer drives efi-framebuffer.N); simpledrm drives simple-framebuffer.N too.
bool platform_matches(const std::string& device, const std::string& driver) {
    const std::string base = device.substr(0, device.rfind('.'));
    return base == driver || (driver == "simpledrm" && base == "simple-framebuffer");
}

// Does any line of a proc/PID/cgroup name the unit as a path component?
bool cgroup_names(const std::string& text, const std::string& unit) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const std::size_t colon = line.find(':', line.find(':') + 1);
        if (colon == std::string::npos) continue;
        std::istringstream parts(line.substr(colon + 1));
        std::string part;
        while (std::getline(parts, part, '/')) {
            if (part == unit) return true;
        }
    }
    return false;
}

bool is_pid(const std::string& name) {
    return !name.empty() && name.size() <= 9 &&
           std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Invocation ID of a unit started here without one remembered.
constexpr const char* kNewInvocationId = "0b1c2d3e4f5061728394a5b6c7d8e9f0";

#define SIMKERNEL_TRY(expr)                   \
    do {                                      \
        auto status_ = (expr);                \
        if (!status_) return status_.error(); \
    } while (0)

}  // namespace

// ---------------------------------------------------------------------------
// SimulatedKernel
// ---------------------------------------------------------------------------

SimulatedKernel::SimulatedKernel(fs::path root, const FakeHostSpec& spec) {
    std::error_code ec;
    root_ = fs::canonical(root, ec);
    if (ec) {
        throw std::runtime_error(make_error("simulated kernel: no fake root", root.string(), ec.value()).describe());
    }
    fsroot_ = FsRoot(root_);
    given_root_ = FsRoot(fs::absolute(root).lexically_normal()).root();
    for (const auto& d : spec.devices) {
        if (d.driver) native_[d.address.str()] = *d.driver;
    }
    // Group nodes of the groups that are on vfio-pci already.
    for (const auto& dev : devices()) {
        if (!is_vfio(current_driver(dev.dir).value_or(""))) continue;
        if (auto g = group_of(dev.dir)) {
            auto st = ensure_group_node(*g);
            if (!st) throw std::runtime_error("simulated kernel: " + st.error().describe());
        }
    }
}

void SimulatedKernel::fail_write(int k, int err) { fail_[k] = err; }
void SimulatedKernel::hang_write(int k) { hang_.insert(k); }
void SimulatedKernel::refuse_bind(const PciAddress& dev, std::string driver, int err) {
    refuse_[{dev.str(), std::move(driver)}] = err;
}
void SimulatedKernel::set_kernel_removes_firmware_framebuffer(bool removes) { removes_firmware_fb_ = removes; }
void SimulatedKernel::hold_module(std::string_view name) { held_.insert(module_name(name)); }
void SimulatedKernel::release_module(std::string_view name) { held_.erase(module_name(name)); }
void SimulatedKernel::fail_module(std::string_view name, std::string_view op, int err) {
    if (op != "load" && op != "unload") throw std::invalid_argument("fail_module: op is load or unload");
    fail_module_[{module_name(name), std::string(op)}] = err;
}
void SimulatedKernel::fail_unit(std::string_view unit, std::string_view op, int err) {
    if (op != "stop" && op != "start") throw std::invalid_argument("fail_unit: op is stop or start");
    fail_unit_[{std::string(unit), std::string(op)}] = err;
}
void SimulatedKernel::hang_unit_stop(std::string_view unit) { hang_stop_.insert(std::string(unit)); }

Status SimulatedKernel::exit_process(int pid) {
    const fs::path dir = root_ / "proc" / std::to_string(pid);
    if (pid <= 0 || !fs::is_directory(fs::symlink_status(dir))) {
        return make_error("simulated kernel: no such process", dir.string(), ESRCH);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return make_error("simulated kernel: cannot remove", dir.string(), ec.value());
    return ok_status();
}

Status SimulatedKernel::write(const fs::path& path, std::string_view value) {
    const int k = ++writes_;
    std::string live = FsRoot(given_root_).live_path(path);
    if (live == path.string()) live = fsroot_.live_path(path);
    log_.push_back("write " + live + " " + std::string(drop_trailing_newline(value)));
    auto fail = [&](int err) -> Status {
        return make_error("cannot write '" + std::string(value) + "' to", live, err);
    };
    if (auto it = fail_.find(k); it != fail_.end()) return fail(it->second);
    if (hang_.count(k) != 0) return ok_status();

    auto st = react(path, value);
    if (!st && st.error().message.empty()) return fail(st.error().err);
    return st;
}

// An Error with an empty message is the kernel's answer (an errno for the
// writer); any other Error is a failure of the simulation itself.
Status SimulatedKernel::react(const fs::path& path, std::string_view value) {
    auto kernel_error = [](int err) -> Status { return Error{"", "", err}; };

    fs::path p = fs::absolute(path).lexically_normal();
    if (p.is_absolute() && !is_under(p, root_) && is_under(p, given_root_)) {
        p = root_ / p.lexically_relative(given_root_);
    }
    if (!is_under(p, root_)) return kernel_error(EPERM);
    const std::string name = p.filename().string();
    std::error_code ec;
    const fs::path parent = fs::canonical(p.parent_path(), ec);
    if (ec) return kernel_error(ec.value() == ENOTDIR ? ENOTDIR : ENOENT);
    if (!is_under(parent, root_)) return kernel_error(EPERM);

    const fs::path drivers = root_ / "sys" / "bus" / "pci" / "drivers";
    const std::string arg(strip_newline(value));

    if (name == "driver_override") {
        if (auto dev = device_by_dir(parent)) {
            if (value.size() >= 4096) return kernel_error(EINVAL);
            std::string text = arg.empty() ? std::string("(null)\n") : arg + "\n";
            if (int err = overwrite(dev->dir / "driver_override", text)) return kernel_error(err);
            return ok_status();
        }
    }

    if ((name == "bind" || name == "unbind") && parent.parent_path() == drivers) {
        const std::string driver = parent.filename().string();
        auto dev = find_device(arg);
        if (!dev) return kernel_error(ENODEV);
        const auto cur = current_driver(dev->dir);
        if (name == "unbind") {
            if (cur != driver) return kernel_error(ENODEV);
            return detach(*dev, driver);
        }
        if (!matches(*dev, driver)) return kernel_error(ENODEV);
        if (cur) return kernel_error(kBindWhenBoundErrno);
        if (int err = refusal(*dev, driver)) return kernel_error(err);
        return attach(*dev, driver);
    }

    if (name == "drivers_probe" && parent == drivers.parent_path()) {
        auto dev = find_device(arg);
        if (!dev) return kernel_error(ENODEV);
        if (current_driver(dev->dir)) return ok_status();
        std::optional<std::string> candidate = read_override(dev->dir);
        if (!candidate) {
            auto it = native_.find(dev->name);
            if (it != native_.end()) candidate = it->second;
        }
        if (!candidate || !fs::is_directory(drivers / *candidate) || !matches(*dev, *candidate)) {
            return ok_status();
        }
        if (refusal(*dev, *candidate) != 0) return ok_status();
        return attach(*dev, *candidate);
    }

    const fs::path platform_drivers = root_ / "sys" / "bus" / "platform" / "drivers";
    if ((name == "bind" || name == "unbind") && parent.parent_path() == platform_drivers) {
        const std::string driver = parent.filename().string();
        if (arg.empty() || arg.find('/') != std::string::npos || arg == "." || arg == "..") {
            return kernel_error(ENODEV);
        }
        const fs::path dev = fs::canonical(root_ / "sys" / "bus" / "platform" / "devices" / arg, ec);
        if (ec || !is_under(dev, root_)) return kernel_error(ENODEV);
        const auto cur = current_driver(dev);
        if (name == "unbind") {
            if (cur != driver) return kernel_error(ENODEV);
            SIMKERNEL_TRY(remove_path(dev / "driver"));
            return remove_path(parent / arg);
        }
        if (!platform_matches(arg, driver)) return kernel_error(ENODEV);
        if (cur) return kernel_error(kBindWhenBoundErrno);
        SIMKERNEL_TRY(make_link(dev / "driver", parent));
        return make_link(parent / arg, dev);
    }

    // A plain attribute: written as is, no reaction.
    const fs::path target = parent / name;
    if (fs::is_symlink(target, ec)) {
        const fs::path resolved = fs::canonical(target, ec);
        if (ec) return kernel_error(ENOENT);
        if (!is_under(resolved, root_)) return kernel_error(EPERM);
    }
    if (int err = overwrite(target, value)) return kernel_error(err);
    return ok_status();
}

std::optional<std::string> SimulatedKernel::pci_driver_of_module(std::string_view name) const {
    if (auto vfio = vfio_driver_of_module(name)) return vfio;
    const std::string mod = module_name(name);
    if (mod == "nvidia") return mod;
    for (const auto& [address, driver] : native_) {
        if (module_name(driver) == mod) return driver;
    }
    return std::nullopt;
}

bool SimulatedKernel::module_loaded(const std::string& module) const {
    const auto lines = parse_modules(read_text(root_ / "proc" / "modules").value_or(""));
    if (std::any_of(lines.begin(), lines.end(), [&](const ModuleLine& m) { return m.name == module; })) return true;
    const auto driver = pci_driver_of_module(module);
    return driver && fs::is_directory(root_ / "sys" / "bus" / "pci" / "drivers" / *driver);
}

Status SimulatedKernel::write_modules_file(const std::string& text) {
    const fs::path file = root_ / "proc" / "modules";
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return make_error("simulated kernel: cannot write", file.string(), EIO);
    return ok_status();
}

// modprobe: the modules it uses first, then its line on top (the newest
// first, as /proc/modules lists them), listed as a user of each module it uses.
Status SimulatedKernel::insert_module(const std::string& module) {
    if (module_loaded(module)) return ok_status();
    const FakeModule info = fake_module(module);
    for (const auto& dep : info.uses) SIMKERNEL_TRY(insert_module(dep));
    auto lines = parse_modules(read_text(root_ / "proc" / "modules").value_or(""));
    if (std::none_of(lines.begin(), lines.end(), [&](const ModuleLine& m) { return m.name == module; })) {
        for (auto& m : lines) {
            if (std::find(info.uses.begin(), info.uses.end(), m.name) == info.uses.end()) continue;
            m.users.insert(m.users.begin(), module);
            ++m.refcount;
        }
        ModuleLine line;
        line.name = module;
        line.size = info.size;
        lines.insert(lines.begin(), std::move(line));
        SIMKERNEL_TRY(write_modules_file(format_modules(lines)));
    }
    const auto driver = pci_driver_of_module(module);
    if (!driver) return ok_status();
    const fs::path dir = root_ / "sys" / "bus" / "pci" / "drivers" / *driver;
    if (fs::is_directory(dir)) return ok_status();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error("simulated kernel: cannot create", dir.string(), ec.value());
    for (const char* f : {"bind", "unbind", "new_id", "remove_id"}) SIMKERNEL_TRY(touch(dir / f));
    // driver_register: the new driver probes every unbound device it matches.
    for (const auto& dev : devices()) {
        if (current_driver(dev.dir) || !matches(dev, *driver)) continue;
        if (refusal(dev, *driver) != 0) continue;
        SIMKERNEL_TRY(attach(dev, *driver));
    }
    return ok_status();
}

Status SimulatedKernel::load_module(std::string_view name) {
    const std::string mod = module_name(name);
    const auto driver = pci_driver_of_module(name);
    if (!driver || !is_vfio(*driver)) log_.push_back("load module " + std::string(name));
    if (auto it = fail_module_.find({mod, "load"}); it != fail_module_.end()) {
        return make_error("modprobe " + mod + " failed (exit 1)", "", it->second);
    }
    return insert_module(mod);
}

// The processes in the root with a descriptor whose link text `holds` accepts.
bool SimulatedKernel::any_process_holds(const std::function<bool(const std::string&)>& holds) const {
    std::error_code ec;
    for (const auto& p : fs::directory_iterator(root_ / "proc", ec)) {
        if (!is_pid(p.path().filename().string())) continue;
        std::error_code fd_ec;
        for (const auto& fd : fs::directory_iterator(p.path() / "fd", fd_ec)) {
            std::error_code link_ec;
            const fs::path target = fs::read_symlink(fd.path(), link_ec);
            if (!link_ec && holds(target.string())) return true;
        }
    }
    return false;
}

Status SimulatedKernel::unload_module(std::string_view name) {
    const std::string mod = module_name(name);
    log_.push_back("unload module " + std::string(name));
    auto refused = [&](int err) -> Status {
        const bool busy = err == EAGAIN || err == EBUSY;
        return make_error("cannot unload module " + mod + (busy ? " (it is in use)" : ""), "", err);
    };
    if (auto it = fail_module_.find({mod, "unload"}); it != fail_module_.end()) return refused(it->second);
    if (!module_loaded(mod)) return refused(ENOENT);
    auto lines = parse_modules(read_text(root_ / "proc" / "modules").value_or(""));
    auto self = std::find_if(lines.begin(), lines.end(), [&](const ModuleLine& m) { return m.name == mod; });
    // delete_module: refused while other modules use it or it is referenced.
    if (self != lines.end() && !self->users.empty()) return refused(EAGAIN);
    if (held_.count(mod) != 0) return refused(EAGAIN);
    if (is_nvidia_module(mod) &&
        any_process_holds([](const std::string& t) { return t.rfind("/dev/nvidia", 0) == 0; })) {
        return refused(EAGAIN);
    }
    if (mod == "nvidia_drm" && any_process_holds([&](const std::string& t) {
            constexpr std::string_view dri = "/dev/dri/";
            if (t.rfind(dri, 0) != 0) return false;
            const std::string node = t.substr(dri.size());
            if (node.empty() || node.find('/') != std::string::npos || node == "." || node == "..") return false;
            std::error_code ec;
            const fs::path dev = fs::canonical(root_ / "sys" / "class" / "drm" / node / "device", ec);
            return !ec && current_driver(dev) == std::optional<std::string>("nvidia");
        })) {
        return refused(EAGAIN);
    }
    if (self != lines.end()) {
        lines.erase(self);
        const FakeModule info = fake_module(mod);
        for (auto& m : lines) {
            if (std::find(info.uses.begin(), info.uses.end(), m.name) == info.uses.end()) continue;
            auto u = std::find(m.users.begin(), m.users.end(), mod);
            if (u == m.users.end()) continue;
            m.users.erase(u);
            if (m.refcount > 0) --m.refcount;
        }
        SIMKERNEL_TRY(write_modules_file(format_modules(lines)));
    }
    const auto driver = pci_driver_of_module(mod);
    if (!driver) return ok_status();
    const fs::path dir = root_ / "sys" / "bus" / "pci" / "drivers" / *driver;
    if (!fs::is_directory(dir)) return ok_status();
    // driver_unregister: every device it drives is unbound.
    for (const auto& dev : devices()) {
        if (current_driver(dev.dir) == driver) SIMKERNEL_TRY(detach(dev, *driver));
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return make_error("simulated kernel: cannot remove", dir.string(), ec.value());
    return ok_status();
}

// ---------------------------------------------------------------------------
// Units
// ---------------------------------------------------------------------------

fs::path SimulatedKernel::unit_stash(const std::string& unit) const { return root_ / ".simkernel" / "units" / unit; }

Status SimulatedKernel::stop_unit(std::string_view unit, std::chrono::milliseconds timeout) {
    const std::string u(unit);
    log_.push_back("stop unit " + u);
    const std::string what = "systemctl stop " + u;
    if (auto it = fail_unit_.find({u, "stop"}); it != fail_unit_.end()) {
        return make_error(what + " failed (exit 1)", "", it->second);
    }
    if (hang_stop_.count(u) != 0) {
        return make_error(what + " did not finish within " + std::to_string(timeout.count()) +
                              " ms (gpu_release_timeout_ms); that systemctl was killed",
                          "", ETIMEDOUT);
    }
    const fs::path link = root_ / "run" / "systemd" / "units" / ("invocation:" + u);
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(link, ec))) return ok_status();  // not active: nothing to do
    const fs::path invocation = fs::read_symlink(link, ec);
    if (ec) return make_error("simulated kernel: cannot read", link.string(), ec.value());

    const fs::path stash = unit_stash(u);
    fs::remove_all(stash, ec);
    fs::create_directories(stash / "proc", ec);
    if (ec) return make_error("simulated kernel: cannot create", stash.string(), ec.value());
    {
        std::ofstream out(stash / "invocation", std::ios::binary | std::ios::trunc);
        out << invocation.string();
        if (!out) return make_error("simulated kernel: cannot write", (stash / "invocation").string(), EIO);
    }
    // The unit's processes exit: kept aside as they were, to come back at start.
    for (const auto& p : fs::directory_iterator(root_ / "proc", ec)) {
        const std::string pid = p.path().filename().string();
        if (!is_pid(pid)) continue;
        const auto cgroup = read_text(p.path() / "cgroup");
        if (!cgroup || !cgroup_names(*cgroup, u)) continue;
        std::error_code mv;
        fs::rename(p.path(), stash / "proc" / pid, mv);
        if (mv) return make_error("simulated kernel: cannot move", p.path().string(), mv.value());
    }
    return remove_path(link);
}

Status SimulatedKernel::start_unit(std::string_view unit, std::chrono::milliseconds) {
    const std::string u(unit);
    log_.push_back("start unit " + u);
    if (auto it = fail_unit_.find({u, "start"}); it != fail_unit_.end()) {
        return make_error("systemctl start " + u + " failed (exit 1)", "", it->second);
    }
    const fs::path units = root_ / "run" / "systemd" / "units";
    const fs::path link = units / ("invocation:" + u);
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(link, ec))) return ok_status();  // running already
    fs::create_directories(units, ec);
    if (ec) return make_error("simulated kernel: cannot create", units.string(), ec.value());

    const fs::path stash = unit_stash(u);
    const std::string invocation = read_text(stash / "invocation").value_or(kNewInvocationId);
    for (const auto& p : fs::directory_iterator(stash / "proc", ec)) {
        const fs::path back = root_ / "proc" / p.path().filename();
        if (fs::exists(fs::symlink_status(back))) {
            return make_error("simulated kernel: the pid of a process of " + u + " is taken", back.string(), EEXIST);
        }
        std::error_code mv;
        fs::rename(p.path(), back, mv);
        if (mv) return make_error("simulated kernel: cannot move back", p.path().string(), mv.value());
    }
    fs::remove_all(stash, ec);
    if (::symlink(invocation.c_str(), link.c_str()) != 0) {
        return make_error("simulated kernel: cannot create symbolic link", link.string(), errno);
    }
    return ok_status();
}

std::vector<SimulatedKernel::Device> SimulatedKernel::devices() const {
    std::vector<Device> out;
    const fs::path bus = root_ / "sys" / "bus" / "pci" / "devices";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(bus, ec)) {
        fs::path dir = fs::canonical(e.path(), ec);
        if (ec) continue;
        out.push_back(Device{e.path().filename().string(), std::move(dir)});
    }
    std::sort(out.begin(), out.end(), [](const Device& a, const Device& b) { return a.name < b.name; });
    return out;
}

std::optional<SimulatedKernel::Device> SimulatedKernel::find_device(std::string_view name) const {
    if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..") {
        return std::nullopt;
    }
    const fs::path link = root_ / "sys" / "bus" / "pci" / "devices" / std::string(name);
    std::error_code ec;
    fs::path dir = fs::canonical(link, ec);
    if (ec) return std::nullopt;
    return Device{std::string(name), std::move(dir)};
}

std::optional<SimulatedKernel::Device> SimulatedKernel::device_by_dir(const fs::path& canonical_dir) const {
    auto dev = find_device(canonical_dir.filename().string());
    if (dev && dev->dir == canonical_dir) return dev;
    return std::nullopt;
}

bool SimulatedKernel::matches(const Device& dev, const std::string& driver) const {
    if (auto override = read_override(dev.dir)) return *override == driver;
    auto it = native_.find(dev.name);
    return it != native_.end() && it->second == driver;
}

int SimulatedKernel::refusal(const Device& dev, const std::string& driver) const {
    if (auto it = refuse_.find({dev.name, driver}); it != refuse_.end()) return it->second;
    if (is_vfio(driver)) {
        // vfio_pci_probe: endpoints only, and only behind an IOMMU.
        if (header_type(dev.dir) != 0) return EINVAL;
        if (!group_of(dev.dir)) return EINVAL;
    }
    return 0;
}

Status SimulatedKernel::attach(const Device& dev, const std::string& driver) {
    const fs::path drv = root_ / "sys" / "bus" / "pci" / "drivers" / driver;
    SIMKERNEL_TRY(make_link(dev.dir / "driver", drv));
    SIMKERNEL_TRY(make_link(drv / dev.name, dev.dir));
    if (is_vfio(driver)) {
        if (auto g = group_of(dev.dir)) SIMKERNEL_TRY(ensure_group_node(*g));
        // vfio_pci_core_register_device -> aperture_remove_conflicting_pci_devices:
        // for the boot display, sysfb_disable and the firmware framebuffers go.
        const auto boot_vga = read_text(dev.dir / "boot_vga");
        if (removes_firmware_fb_ && boot_vga && strip_newline(*boot_vga) == "1") {
            SIMKERNEL_TRY(remove_firmware_framebuffers());
        }
    }
    return ok_status();
}

Status SimulatedKernel::remove_firmware_framebuffers() {
    const fs::path platform = root_ / "sys" / "devices" / "platform";
    const fs::path graphics = root_ / "sys" / "class" / "graphics";
    std::error_code ec;
    std::vector<fs::path> gone;
    for (const auto& e : fs::directory_iterator(platform, ec)) {
        if (is_firmware_framebuffer(e.path().filename().string())) gone.push_back(e.path());
    }
    std::sort(gone.begin(), gone.end());
    std::set<std::string> removed_fbs;  // "N" of each sys/class/graphics/fbN removed
    for (const auto& dev : gone) {
        const std::string name = dev.filename().string();
        std::error_code link_ec;
        const fs::path drv = fs::read_symlink(dev / "driver", link_ec);
        if (!link_ec)
            SIMKERNEL_TRY(remove_path(root_ / "sys" / "bus" / "platform" / "drivers" / drv.filename() / name));
        SIMKERNEL_TRY(remove_path(root_ / "sys" / "bus" / "platform" / "devices" / name));
        for (const auto& fb : fs::directory_iterator(graphics, link_ec)) {
            std::error_code c;
            const fs::path target = fs::canonical(fb.path() / "device", c);
            if (c || target != dev) continue;
            const std::string fb_name = fb.path().filename().string();
            removed_fbs.insert(fb_name.substr(2));
            fs::remove_all(fb.path(), c);
            if (c) return make_error("simulated kernel: cannot remove", fb.path().string(), c.value());
        }
        fs::remove_all(dev, link_ec);
        if (link_ec) return make_error("simulated kernel: cannot remove", dev.string(), link_ec.value());
    }
    // /proc/fb lists the registered framebuffers: "N NAME".
    const fs::path proc_fb = root_ / "proc" / "fb";
    if (auto text = read_text(proc_fb); text && !removed_fbs.empty()) {
        std::istringstream in(*text);
        std::string line, kept;
        while (std::getline(in, line)) {
            if (removed_fbs.count(line.substr(0, line.find(' '))) == 0) kept += line + "\n";
        }
        if (int err = overwrite(proc_fb, kept))
            return make_error("simulated kernel: cannot write", proc_fb.string(), err);
    }
    return ok_status();
}

Status SimulatedKernel::detach(const Device& dev, const std::string& driver) {
    SIMKERNEL_TRY(remove_path(dev.dir / "driver"));
    SIMKERNEL_TRY(remove_path(root_ / "sys" / "bus" / "pci" / "drivers" / driver / dev.name));
    if (!is_vfio(driver)) return ok_status();
    auto g = group_of(dev.dir);
    if (!g) return ok_status();
    const fs::path members = root_ / "sys" / "kernel" / "iommu_groups" / std::to_string(*g) / "devices";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(members, ec)) {
        if (e.path().filename() == dev.name) continue;
        if (is_vfio(current_driver(e.path()).value_or(""))) return ok_status();  // the group stays in use
    }
    return remove_path(fsroot_.dev("vfio/" + std::to_string(*g)));
}

Status SimulatedKernel::ensure_group_node(int group) {
    const fs::path dir = fsroot_.dev("vfio");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error("cannot create directory", dir.string(), ec.value());
    SIMKERNEL_TRY(touch(dir / "vfio"));
    return touch(dir / std::to_string(group));
}

// ---------------------------------------------------------------------------
// DriverState
// ---------------------------------------------------------------------------

namespace {

std::string show(const std::optional<std::string>& v, const char* none) { return v ? *v : none; }

std::string group_node(int group) { return FsRoot().dev("vfio/" + std::to_string(group)).string(); }

}  // namespace

std::string DriverState::diff(const DriverState& other) const {
    std::string out;
    std::set<PciAddress> all;
    for (const auto& [a, s] : devices) all.insert(a);
    for (const auto& [a, s] : other.devices) all.insert(a);
    for (const auto& a : all) {
        auto mine = devices.find(a);
        auto theirs = other.devices.find(a);
        if (mine == devices.end()) {
            out += a.str() + ": absent -> present\n";
            continue;
        }
        if (theirs == other.devices.end()) {
            out += a.str() + ": present -> absent\n";
            continue;
        }
        const auto& x = mine->second;
        const auto& y = theirs->second;
        if (x.driver != y.driver) {
            out += a.str() + ": driver " + show(x.driver, "(none)") + " -> " + show(y.driver, "(none)") + "\n";
        }
        if (x.override != y.override) {
            out += a.str() + ": driver_override " + show(x.override, "(null)") + " -> " + show(y.override, "(null)") +
                   "\n";
        }
    }
    std::set<int> groups = vfio_groups;
    groups.insert(other.vfio_groups.begin(), other.vfio_groups.end());
    for (int g : groups) {
        const bool before = vfio_groups.count(g) != 0;
        const bool after = other.vfio_groups.count(g) != 0;
        if (before != after) {
            out += group_node(g) + (before ? ": present -> absent\n" : ": absent -> present\n");
        }
    }
    return out;
}

std::string DriverState::str() const {
    std::string out;
    for (const auto& [a, s] : devices) {
        out +=
            a.str() + " driver=" + show(s.driver, "(none)") + " driver_override=" + show(s.override, "(null)") + "\n";
    }
    for (int g : vfio_groups) out += group_node(g) + "\n";
    return out;
}

void PrintTo(const DriverState& state, std::ostream* os) { *os << "\n" << state.str(); }

DriverState capture_driver_state(const fs::path& root) {
    const FsRoot fsroot(root);
    DriverState state;
    std::error_code ec;
    const fs::path bus = fsroot.pci_devices();
    fs::directory_iterator it(bus, ec);
    if (ec) throw std::runtime_error(make_error("no PCI devices under the root", bus.string(), ec.value()).describe());
    for (const auto& e : it) {
        auto addr = PciAddress::parse(e.path().filename().string());
        if (!addr) throw std::runtime_error("not a PCI address: " + e.path().string());
        state.devices[*addr] = DeviceDriverState{current_driver(e.path()), read_override(e.path())};
    }
    for (const auto& e : fs::directory_iterator(fsroot.dev("vfio"), ec)) {
        const std::string name = e.path().filename().string();
        if (name.empty() || name.size() > 9 ||
            !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            continue;
        }
        state.vfio_groups.insert(std::stoi(name));
    }
    return state;
}

}  // namespace hostdev::testing
