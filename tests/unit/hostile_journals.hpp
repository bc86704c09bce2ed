// A table of hostile journals, each a case for the total journal reader:
// wrong types, nulls, missing keys, numbers out of range, duplicate keys,
// wrong nesting, bad addresses, driver names that are paths, steps out of
// order. Shared by the reader's tests and the hook's (reconnect exits 0 for
// every one of them).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace hostdev::testing {

inline const std::string kJournalBase = R"({
  "format": "hostdev-journal",
  "version": 1,
  "owner": {"key": "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14", "name": "vm"},
  "state": "detached",
  "pid": 42,
  "devices": [
    {"address": "0000:01:00.0", "group": 1, "original_driver": "nouveau", "original_override": null, "done": [1, 2, 3]},
    {"address": "0000:01:00.2", "group": 1, "original_driver": null, "original_override": "foo", "done": [1, 3]}
  ]
}
)";
inline const char* kJournalKey = "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14";

// kJournalBase with `from` replaced by `to` (which must be there once).
inline std::string journal_with(const std::string& from, const std::string& to) {
    std::string s = kJournalBase;
    const auto at = s.find(from);
    if (at == std::string::npos || s.find(from, at + 1) != std::string::npos)
        throw std::runtime_error("not once in the base journal: " + from);
    return s.replace(at, from.size(), to);
}

// kJournalBase with a "handoff" member after its devices.
inline std::string with_handoff(const std::string& handoff) {
    return journal_with("  ]\n}", "  ],\n  \"handoff\": " + handoff + "\n}");
}

struct Hostile {
    const char* what;
    std::string text;
    const char* named;  // a part of the error that names the key or the problem
};

inline const std::string kJournalDev0 =
    R"({"address": "0000:01:00.0", "group": 1, "original_driver": "nouveau", "original_override": null, )"
    R"("done": [1, 2, 3]})";

inline std::vector<Hostile> hostile_journals() {
    std::string deep = "{\"format\": \"hostdev-journal\", \"x\": ";
    for (int i = 0; i < 40; ++i) deep += "[";
    for (int i = 0; i < 40; ++i) deep += "]";
    deep += "}";
    return {
        {"format null", journal_with(R"("format": "hostdev-journal")", R"("format": null)"), "format: missing"},
        {"format a number", journal_with(R"("format": "hostdev-journal")", R"("format": 1)"),
         "format: expected a string"},
        {"format an object", journal_with(R"("format": "hostdev-journal")", R"("format": {})"),
         "format: expected a string"},
        {"format another file", journal_with(R"("format": "hostdev-journal")", R"("format": "hostdev-snapshot")"),
         "format: expected \"hostdev-journal\""},
        {"not JSON", "{\"format\": ", "not a JSON document"},
        {"empty file", "", "not a JSON document"},
        {"NUL bytes", std::string("{\0\0}", 4), "not a JSON document"},
        {"a list", "[]", "the document: expected an object"},
        {"null", "null", "the document: expected an object"},
        {"a string", "\"hostdev-journal\"", "the document: expected an object"},
        {"trailing garbage", kJournalBase + "{}", "not a JSON document"},
        {"duplicate top key", journal_with(R"("version": 1,)", R"("version": 1, "version": 1,)"), "appears twice"},
        {"duplicate device key",
         journal_with(R"("group": 1, "original_driver": "nouveau")",
                      R"("group": 1, "group": 2, "original_driver": "nouveau")"),
         "appears twice"},
        {"nested too deep", deep, "nested deeper"},
        {"invalid UTF-8", journal_with(R"("name": "vm")", "\"name\": \"v\xff\xfem\""), "not a JSON document"},
        {"version a string", journal_with(R"("version": 1)", R"("version": "1")"), "version: expected a whole number"},
        {"version 2", journal_with(R"("version": 1)", R"("version": 2)"), "unsupported version 2"},
        {"version negative", journal_with(R"("version": 1)", R"("version": -1)"), "unsupported version -1"},
        {"version a fraction", journal_with(R"("version": 1)", R"("version": 1.5)"),
         "version: expected a whole number"},
        {"version huge", journal_with(R"("version": 1)", R"("version": 99999999999999999999999)"),
         "version: expected a whole number"},
        {"version above int64", journal_with(R"("version": 1)", R"("version": 18446744073709551615)"),
         "version: out of range"},
        {"version missing", journal_with(R"("version": 1,)", ""), "version: missing"},
        {"version null", journal_with(R"("version": 1)", R"("version": null)"), "version: missing"},
        {"owner missing",
         journal_with(R"("owner": {"key": "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14", "name": "vm"},)", ""),
         "owner: missing"},
        {"owner null", journal_with(R"({"key": "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14", "name": "vm"})", "null"),
         "owner: missing"},
        {"owner a list", journal_with(R"({"key": "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14", "name": "vm"})", "[]"),
         "owner: expected an object"},
        {"owner key a number", journal_with(R"("key": "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14")", R"("key": 7)"),
         "owner.key: expected a string"},
        {"owner key a path",
         journal_with(R"("key": "6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14")", R"("key": "../../etc/passwd")"),
         "owner.key: not a UUID"},
        {"owner name a list", journal_with(R"("name": "vm")", R"("name": ["vm"])"), "owner.name: expected a string"},
        {"state null", journal_with(R"("state": "detached")", R"("state": null)"), "state: missing"},
        {"state a number", journal_with(R"("state": "detached")", R"("state": 3)"), "state: expected a string"},
        {"state unknown", journal_with(R"("state": "detached")", R"("state": "exploded")"), "state: unknown state"},
        {"pid negative", journal_with(R"("pid": 42)", R"("pid": -5)"), "pid: out of range"},
        {"pid huge", journal_with(R"("pid": 42)", R"("pid": 1e30)"), "pid: expected a whole number"},
        {"pid above int", journal_with(R"("pid": 42)", R"("pid": 4294967296)"), "pid: out of range"},
        {"pid a string", journal_with(R"("pid": 42)", R"("pid": "42")"), "pid: expected a whole number"},
        {"devices missing", kJournalBase.substr(0, kJournalBase.find(R"(,
  "devices")")) + "}",
         "devices: missing"},
        {"devices an object",
         R"({"format": "hostdev-journal", "version": 1, "owner": {"key": "manual"}, "state": "detached",
             "devices": {"0000:01:00.0": {}}})",
         "devices: expected a list"},
        {"devices null", journal_with(R"("devices": [)", R"("devices": null, "x": [)"), "devices: missing"},
        {"device a string", journal_with(kJournalDev0, "\"0000:01:00.0\""), "devices[0]: expected an object"},
        {"device a list", journal_with(kJournalDev0, "[]"), "devices[0]: expected an object"},
        {"address missing", journal_with(R"("address": "0000:01:00.0", )", ""), "devices[0].address: missing"},
        {"address a number", journal_with(R"("address": "0000:01:00.0")", R"("address": 100)"),
         "devices[0].address: expected a string"},
        {"address garbage", journal_with(R"("address": "0000:01:00.0")", R"("address": "zz:zz.z")"),
         "devices[0].address: not a PCI address"},
        {"address bad function", journal_with(R"("address": "0000:01:00.0")", R"("address": "0000:01:00.9")"),
         "devices[0].address: not a PCI address"},
        {"address twice", journal_with(R"("address": "0000:01:00.2")", R"("address": "0000:01:00.0")"),
         "appears twice"},
        {"group missing",
         journal_with(R"("group": 1, "original_driver": "nouveau")", R"("original_driver": "nouveau")"),
         "devices[0].group: missing"},
        {"group below -1",
         journal_with(R"("group": 1, "original_driver": "nouveau")", R"("group": -2, "original_driver": "nouveau")"),
         "devices[0].group: out of range"},
        {"group huge",
         journal_with(R"("group": 1, "original_driver": "nouveau")",
                      R"("group": 4294967296, "original_driver": "nouveau")"),
         "devices[0].group: out of range"},
        {"group a string",
         journal_with(R"("group": 1, "original_driver": "nouveau")", R"("group": "1", "original_driver": "nouveau")"),
         "devices[0].group: expected a whole number"},
        {"original_driver missing", journal_with(R"("original_driver": "nouveau", )", ""),
         "devices[0].original_driver: missing"},
        {"original_driver a number", journal_with(R"("original_driver": "nouveau")", R"("original_driver": 5)"),
         "devices[0].original_driver: expected a string"},
        {"original_driver a path",
         journal_with(R"("original_driver": "nouveau")", R"("original_driver": "../../../../tmp")"),
         "devices[0].original_driver: not a driver name"},
        {"original_driver with a slash", journal_with(R"("original_driver": "nouveau")", R"("original_driver": "a/b")"),
         "devices[0].original_driver: not a driver name"},
        {"original_driver empty", journal_with(R"("original_driver": "nouveau")", R"("original_driver": "")"),
         "devices[0].original_driver: not a driver name"},
        {"original_driver a newline", journal_with(R"("original_driver": "nouveau")", R"("original_driver": "a\nb")"),
         "devices[0].original_driver: not a driver name"},
        {"original_override missing", journal_with(R"(, "original_override": null)", ""),
         "devices[0].original_override: missing"},
        {"original_override a list", journal_with(R"("original_override": null)", R"("original_override": [])"),
         "devices[0].original_override: expected a string"},
        {"done a string", journal_with(R"("done": [1, 2, 3])", R"("done": "1,2,3")"),
         "devices[0].done: expected a list of whole numbers"},
        {"done step 0", journal_with(R"("done": [1, 2, 3])", R"("done": [0])"), "devices[0].done: out of range"},
        {"done step 4", journal_with(R"("done": [1, 2, 3])", R"("done": [4])"), "devices[0].done: out of range"},
        {"done out of order", journal_with(R"("done": [1, 2, 3])", R"("done": [1, 3])"),
         "devices[0].done: not the device's steps"},
        {"done repeated", journal_with(R"("done": [1, 2, 3])", R"("done": [1, 1])"),
         "devices[0].done: not the device's steps"},
        {"done step 2 without a driver", journal_with(R"("done": [1, 3])", R"("done": [1, 2])"),
         "devices[1].done: not the device's steps"},
        {"done a fraction", journal_with(R"("done": [1, 2, 3])", R"("done": [1.5])"),
         "devices[0].done: expected a whole number"},
        {"doing after everything", journal_with(R"("done": [1, 2, 3])", R"("done": [1, 2, 3], "doing": 3)"),
         "devices[0].doing: not the step after"},
        {"doing skips a step", journal_with(R"("done": [1, 2, 3])", R"("done": [1], "doing": 3)"),
         "devices[0].doing: not the step after"},
        {"pending a string", journal_with(R"("done": [1, 2, 3])", R"("done": [1, 2, 3], "pending": "yes")"),
         "devices[0].pending: expected true or false"},
        // The single-GPU handoff's record.
        {"handoff not an object", with_handoff("[]"), "handoff: expected an object"},
        {"handoff without gpu", with_handoff(R"({"done": []})"), "handoff.gpu: missing"},
        {"handoff gpu not an address", with_handoff(R"({"gpu": "card0"})"), "handoff.gpu: not a PCI address"},
        {"handoff unit a path", with_handoff(R"({"gpu": "0000:01:00.0", "stopped_unit": "../../etc/x.service"})"),
         "handoff.stopped_unit: not a service unit name"},
        {"handoff node outside /dev", with_handoff(R"({"gpu": "0000:01:00.0", "nodes": ["/etc/passwd"]})"),
         "handoff.nodes: not a device node"},
        {"handoff console out of range", with_handoff(R"({"gpu": "0000:01:00.0", "consoles": [-1]})"),
         "handoff.consoles"},
        {"handoff firmware not a framebuffer",
         with_handoff(R"({"gpu": "0000:01:00.0", "firmware": [{"device": "sda", "driver": "x"}]})"),
         "handoff.firmware[0].device: not a firmware framebuffer device"},
        {"handoff module a path", with_handoff(R"({"gpu": "0000:01:00.0", "modules_before": ["a/b"]})"),
         "handoff.modules_before: not a module name"},
        {"handoff steps out of order",
         with_handoff(R"({"gpu": "0000:01:00.0", "stopped_unit": "gdm.service", "consoles": [1], "done": [3, 1]})"),
         "handoff.done: not the handoff's steps in order"},
        {"handoff doing skips a step",
         with_handoff(R"({"gpu": "0000:01:00.0", "stopped_unit": "gdm.service", "consoles": [1], "doing": 3})"),
         "handoff.doing: not the step after"},
        {"handoff step not planned", with_handoff(R"({"gpu": "0000:01:00.0", "done": [4]})"),
         "handoff.done: not the handoff's steps in order"},
        {"starting not an object", journal_with("  \"pid\": 42,", "  \"pid\": 42,\n  \"starting\": 812,"), "starting"},
        {"starting without a pid",
         journal_with("  \"pid\": 42,", "  \"pid\": 42,\n  \"starting\": {\"name\": \"libvirtd\"},"), "starting.pid"},
        {"starting pid 0", journal_with("  \"pid\": 42,", "  \"pid\": 42,\n  \"starting\": {\"pid\": 0},"),
         "starting.pid"},
        {"starting pid a string", journal_with("  \"pid\": 42,", "  \"pid\": 42,\n  \"starting\": {\"pid\": \"812\"},"),
         "starting.pid"},
        {"starting start_time negative",
         journal_with("  \"pid\": 42,", "  \"pid\": 42,\n  \"starting\": {\"pid\": 812, \"start_time\": -1},"),
         "starting.start_time"},
        {"starting of a manual detach",
         journal_with(
             "\"key\": \"6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14\", \"name\": \"vm\"},\n  \"state\": \"detached\",",
             "\"key\": \"manual\"},\n  \"state\": \"detached\",\n  \"starting\": {\"pid\": 812},"),
         "starting: a manual detach has no libvirt daemon"},
    };
}

}  // namespace hostdev::testing
