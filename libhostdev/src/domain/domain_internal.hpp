// Internal: a parsed domain definition with everything the editor needs to
// splice text into the original bytes (the pugixml tree for meaning, the
// skeleton for exact positions).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "domain/xml_scan.hpp"
#include "hostdev/domain/domain.hpp"

namespace hostdev::detail {

struct ParsedDomain {
    explicit ParsedDomain(std::string_view t) : text(t), lines(t) {}

    std::string_view text;  // the caller's buffer; must outlive this object
    LineIndex lines;
    XmlSkeleton skeleton;
    pugi::xml_document doc;
    Domain domain;
    // The element of each entry of domain.passthrough, same index.
    std::vector<pugi::xml_node> passthrough_nodes;

    [[nodiscard]] int line_of(const pugi::xml_node& node) const;
    // The skeleton element of a pugixml element, or nullptr.
    [[nodiscard]] const ScanElement* element(const pugi::xml_node& node) const;
};

Result<std::unique_ptr<ParsedDomain>> parse_domain_document(std::string_view text, std::string_view filename);

}  // namespace hostdev::detail
