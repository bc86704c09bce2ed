// Validation of domain definitions against libvirt's installed RelaxNG schema
// (domain.rng), with libxml2. The schema is parsed once and reused for every
// document; documents are parsed without network access, without DTD loading
// and without entity substitution, and libxml2's messages are collected into
// the returned Error instead of being printed.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "hostdev/base/result.hpp"

namespace hostdev {

class SchemaValidator {
public:
    // Parses DIR/domain.rng (and the files it includes). The error names the
    // file and what to install when the schemas are missing.
    static Result<std::shared_ptr<const SchemaValidator>> load(const std::filesystem::path& schema_dir);
    // Where Debian's libvirt0 installs the schemas (compile-time HOSTDEV_SCHEMA_DIR).
    static std::filesystem::path default_dir();

    // Validates one document. On failure the message starts with
    // "FILE: not valid against SCHEMA" and lists libxml2's messages, one per
    // line, as "FILE:LINE: message". A document with a DOCTYPE is refused
    // without being handed to libxml2.
    [[nodiscard]] Status validate(std::string_view xml, std::string_view filename) const;

    [[nodiscard]] const std::filesystem::path& schema_file() const;

    ~SchemaValidator();
    SchemaValidator(const SchemaValidator&) = delete;
    SchemaValidator& operator=(const SchemaValidator&) = delete;

private:
    struct Impl;
    explicit SchemaValidator(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace hostdev
