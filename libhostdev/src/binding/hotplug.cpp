#include "hostdev/binding/hotplug.hpp"

#include "hostdev/base/exit_codes.hpp"

namespace hostdev {

Status perform(HotplugApi& api, const HotplugCall& c) {
    switch (c.kind) {
        case HotplugCall::Kind::DetachNode: return api.detach_node(c.node_device);
        case HotplugCall::Kind::ReattachNode: return api.reattach_node(c.node_device);
        case HotplugCall::Kind::AttachDevice: return api.attach_device(c.domain, c.xml, c.definition);
        case HotplugCall::Kind::DetachDevice: return api.detach_device(c.domain, c.xml, c.definition, c.device);
    }
    return make_error("unknown call");
}

int HotplugOutcome::exit_code() const {
    if (!failed) return exits::hotplug::kDone;
    return undo_errors.empty() && left.empty() ? exits::hotplug::kFailed : exits::hotplug::kNotUndone;
}

namespace {

bool is_device_call(const HotplugCall& c) {
    return c.kind == HotplugCall::Kind::AttachDevice || c.kind == HotplugCall::Kind::DetachDevice;
}

}  // namespace

HotplugOutcome run_hotplug(const std::vector<HotplugStep>& steps, HotplugApi& api,
                           const std::function<void(const HotplugCall&, const Status&, HotplugPhase)>& observe) {
    HotplugOutcome out;
    std::size_t ran = 0;
    for (; ran < steps.size(); ++ran) {
        const HotplugCall& c = steps[ran].call;
        Status st = perform(api, c);
        if (observe) observe(c, st, HotplugPhase::Do);
        if (!st) {
            out.failed = ran;
            out.error = st.error().context(c.device.str() + ": " + std::string(to_string(c.kind)));
            break;
        }
        out.done.push_back(c);
    }
    if (!out.failed) return out;
    // Unwind the calls before the failed one, last first.
    std::vector<bool> back(ran, false);
    for (std::size_t i = ran; i-- > 0;) {
        const HotplugCall& u = steps[i].undo;
        Status st = perform(api, u);
        if (observe) observe(u, st, HotplugPhase::Undo);
        if (st) {
            out.undone.push_back(u);
            back[i] = true;
            continue;
        }
        out.undo_errors.push_back(st.error().context(u.device.str() + ": undo " + std::string(to_string(u.kind))));
        if (is_device_call(u)) break;
    }
    for (std::size_t i = 0; i < ran; ++i)
        if (!back[i]) out.left.push_back(steps[i].call);
    return out;
}

}  // namespace hostdev
