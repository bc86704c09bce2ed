// The bodies of the fuzz targets, one per reader of files hostdev did not
// write. Each takes one input and returns "" when every property held, else
// what was violated. libFuzzer's entry point (main.cpp) aborts on a violation;
// the unit tests replay the seed corpora and every input that once failed
// (tests/fuzz/regressions) through the same bodies, in every build.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hostdev::fuzz {

using Body = std::string (*)(std::string_view input);

struct Target {
    const char* name;  // as in fuzz_NAME, corpus/NAME and regressions/NAME
    Body body;
};

// domain XML: parse, plan on the example hosts, edit, parse again; the fixed
// document must parse and a second run must change nothing.
std::string domain(std::string_view input);
// snapshot JSON: read; what reads is written, read again and written the same;
// the example domains are planned on it.
std::string snapshot(std::string_view input);
// A journal file (journal::parse).
std::string journal(std::string_view input);
// hostdev.conf.
std::string config(std::string_view input);
// libvirt node-device XML: documents separated by NUL bytes make one host,
// which must survive a snapshot round trip and take the example domains.
std::string nodedev(std::string_view input);
// The /proc and /sys text parsers (host/parse.hpp), each on the whole input.
std::string kernel_text(std::string_view input);
// pci.ids.
std::string pciids(std::string_view input);
// libvirt network XML: parse; what reads is judged as the pool of a domain
// that uses it, on the example hosts, and reported.
std::string network(std::string_view input);

const std::vector<Target>& targets();

}  // namespace hostdev::fuzz
