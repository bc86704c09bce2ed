// Internal: a lexical pass over an XML document that records where every
// element and attribute sits in the original bytes. pugixml gives the tree and
// decoded values but not the position of end tags or attribute quotes; the
// byte-preserving editor needs both. The scanner also enforces the rules
// pugixml is lenient about (a single root element, declared entities only, no
// duplicate attributes, no DOCTYPE, a nesting limit).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hostdev::detail {

// Maps byte offsets to 1-based line numbers. A line ends at "\n", "\r\n" or a
// lone "\r" (XML treats all three as a line end).
class LineIndex {
public:
    explicit LineIndex(std::string_view text);
    [[nodiscard]] int line_of(std::size_t offset) const;
    // Offset of the first byte of the line holding `offset`.
    [[nodiscard]] std::size_t line_start(std::size_t offset) const;

private:
    std::vector<std::size_t> starts_;
};

struct ScanAttr {
    std::string_view name;
    std::size_t name_begin = 0;
    std::size_t value_begin = 0;  // first byte after the opening quote
    std::size_t value_end = 0;    // the closing quote
    char quote = '\'';
};

struct ScanElement {
    std::string_view name;
    std::size_t open_begin = 0;  // '<' of the start tag
    std::size_t open_end = 0;    // one past the '>' of the start tag
    bool self_closing = false;
    std::size_t close_begin = 0;  // '<' of the end tag (open_begin when self-closing)
    std::size_t close_end = 0;    // one past the end tag's '>' (open_end when self-closing)
    std::vector<ScanAttr> attrs;
    int parent = -1;
    std::vector<int> children;
    int depth = 1;  // the root element has depth 1

    [[nodiscard]] const ScanAttr* attr(std::string_view attr_name) const;
};

struct ScanError {
    enum class Kind { none, doctype, too_deep, syntax };
    Kind kind = Kind::none;
    std::size_t offset = 0;
    std::string message;
};

struct XmlSkeleton {
    std::vector<ScanElement> elements;  // document order; elements[0] is the root
    ScanError error;                    // kind none when the whole text scanned cleanly
};

// Scans `text` (already checked to be valid UTF-8). Stops at the first problem.
XmlSkeleton scan_xml(std::string_view text, int max_depth);

// The offset of a DOCTYPE in the prolog (before the root element, after the
// declaration, comments, processing instructions and whitespace), or npos.
// Anywhere else a DOCTYPE is a plain syntax error to any XML parser.
std::size_t find_prolog_doctype(std::string_view text);

}  // namespace hostdev::detail
