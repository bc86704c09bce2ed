// libFuzzer's entry point for one target, chosen at compile time
// (HOSTDEV_FUZZ_TARGET, a function of targets.hpp): a violated property is a
// crash, so libFuzzer keeps the input and stops.
#include <cstdint>
#include <cstdio>
#include <string>

#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string why = hostdev::fuzz::HOSTDEV_FUZZ_TARGET({reinterpret_cast<const char*>(data), size});
    if (!why.empty()) {
        std::fprintf(stderr, "hostdev fuzz: property violated: %s\n", why.c_str());
        __builtin_trap();
    }
    return 0;
}
