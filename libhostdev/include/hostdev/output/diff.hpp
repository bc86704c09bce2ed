// Unified diff of two texts by lines (Myers' algorithm), as `diff -u` prints it.
#pragma once

#include <string>
#include <string_view>

namespace hostdev {

std::string unified_diff(std::string_view before, std::string_view after, std::string_view before_name,
                         std::string_view after_name, int context = 3);

}  // namespace hostdev
