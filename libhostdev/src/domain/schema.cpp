#include "hostdev/domain/schema.hpp"

#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>

#include "base/xml_scan.hpp"

#ifndef HOSTDEV_SCHEMA_DIR
#define HOSTDEV_SCHEMA_DIR "/usr/share/libvirt/schemas"
#endif

namespace hostdev {
namespace {

constexpr std::size_t kMaxMessages = 50;

// Collects libxml2's messages as "FILE:LINE: message".
struct Collector {
    std::string file;
    std::vector<std::string> messages;
    std::size_t dropped = 0;

    void add(std::string msg) {
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        if (msg.empty()) return;
        if (messages.size() >= kMaxMessages) {
            ++dropped;
            return;
        }
        messages.push_back(std::move(msg));
    }
    [[nodiscard]] std::string joined() const {
        std::string out;
        for (const auto& m : messages) out += "\n" + m;
        if (dropped > 0) out += "\n(" + std::to_string(dropped) + " more messages)";
        return out;
    }
};

void structured_handler(void* ctx, xmlErrorPtr err) {
    auto* c = static_cast<Collector*>(ctx);
    if (c == nullptr || err == nullptr || err->level < XML_ERR_ERROR) return;
    int line = err->line;
    if (line <= 0 && err->node != nullptr) line = static_cast<int>(xmlGetLineNo(static_cast<xmlNodePtr>(err->node)));
    std::string file = c->file.empty() && err->file != nullptr ? err->file : c->file;
    std::string prefix = file;
    if (line > 0) prefix += ":" + std::to_string(line);
    c->add(prefix + ": " + (err->message != nullptr ? err->message : "unknown error"));
}

void generic_handler(void* ctx, const char* fmt, ...) {
    auto* c = static_cast<Collector*>(ctx);
    if (c == nullptr || fmt == nullptr) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->add(c->file + ": " + buf);
}

// Routes libxml2's per-thread error handlers to a Collector for the lifetime
// of the guard and restores whatever was there before.
class ErrorGuard {
public:
    explicit ErrorGuard(Collector* c)
        : structured_(xmlStructuredError),
          structured_ctx_(xmlStructuredErrorContext),
          generic_(xmlGenericError),
          generic_ctx_(xmlGenericErrorContext) {
        xmlSetStructuredErrorFunc(c, structured_handler);
        xmlSetGenericErrorFunc(c, generic_handler);
    }
    ~ErrorGuard() {
        xmlStructuredError = structured_;
        xmlStructuredErrorContext = structured_ctx_;
        xmlGenericError = generic_;
        xmlGenericErrorContext = generic_ctx_;
    }
    ErrorGuard(const ErrorGuard&) = delete;
    ErrorGuard& operator=(const ErrorGuard&) = delete;

private:
    xmlStructuredErrorFunc structured_;
    void* structured_ctx_;
    xmlGenericErrorFunc generic_;
    void* generic_ctx_;
};

}  // namespace

struct SchemaValidator::Impl {
    std::filesystem::path file;
    xmlRelaxNGPtr schema = nullptr;
    // libxml2 does not document a compiled RelaxNG schema as safe to share
    // between concurrent validations; validations are serialized.
    mutable std::mutex mutex;

    ~Impl() {
        if (schema != nullptr) xmlRelaxNGFree(schema);
    }
};

SchemaValidator::SchemaValidator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SchemaValidator::~SchemaValidator() = default;

std::filesystem::path SchemaValidator::default_dir() { return HOSTDEV_SCHEMA_DIR; }

const std::filesystem::path& SchemaValidator::schema_file() const { return impl_->file; }

Result<std::shared_ptr<const SchemaValidator>> SchemaValidator::load(const std::filesystem::path& schema_dir) {
    auto impl = std::make_unique<Impl>();
    impl->file = schema_dir / "domain.rng";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(impl->file, ec)) {
        return make_error(
            "libvirt's RelaxNG domain schema is missing (install package libvirt0, "
            "which ships the schemas, or point --schema-dir at a directory holding "
            "domain.rng)",
            impl->file.string(), ec ? ec.value() : ENOENT);
    }
    xmlInitParser();
    Collector collector{impl->file.string(), {}, 0};
    {
        ErrorGuard guard(&collector);
        xmlRelaxNGParserCtxtPtr pctx = xmlRelaxNGNewParserCtxt(impl->file.c_str());
        if (pctx == nullptr) return make_error("cannot allocate a RelaxNG parser", impl->file.string(), ENOMEM);
        xmlRelaxNGSetParserStructuredErrors(pctx, structured_handler, &collector);
        impl->schema = xmlRelaxNGParse(pctx);
        xmlRelaxNGFreeParserCtxt(pctx);
    }
    if (impl->schema == nullptr) {
        return make_error(
            "cannot parse libvirt's RelaxNG domain schema (reinstall package "
            "libvirt0 or fix --schema-dir):" +
                collector.joined(),
            impl->file.string());
    }
    return std::shared_ptr<const SchemaValidator>(new SchemaValidator(std::move(impl)));
}

Status SchemaValidator::validate(std::string_view xml, std::string_view filename) const {
    const std::string file(filename);
    auto invalid = [&](const std::string& details) {
        return make_error(file + ": not valid against " + impl_->file.string() + details);
    };
    if (xml.size() > static_cast<std::size_t>(INT_MAX)) return invalid("\n" + file + ": file is too large");

    // Never hand a DTD to libxml2: no entity can be declared, expanded or fetched.
    std::size_t doctype = detail::find_prolog_doctype(xml);
    if (doctype != std::string_view::npos) {
        detail::LineIndex lines(xml.substr(0, doctype));
        return invalid("\n" + file + ":" + std::to_string(lines.line_of(doctype)) +
                       ": DTD/DOCTYPE is not allowed in a domain definition");
    }

    std::lock_guard<std::mutex> lock(impl_->mutex);
    Collector collector{file, {}, 0};
    int rc = -1;
    {
        ErrorGuard guard(&collector);
        // XML_PARSE_NONET: nothing is fetched. No XML_PARSE_NOENT, DTDLOAD or
        // DTDATTR: no entity is substituted and no external DTD is read.
        xmlDocPtr doc = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), file.c_str(), nullptr,
                                      XML_PARSE_NONET | XML_PARSE_BIG_LINES);
        if (doc != nullptr) {
            xmlRelaxNGValidCtxtPtr vctx = xmlRelaxNGNewValidCtxt(impl_->schema);
            if (vctx != nullptr) {
                xmlRelaxNGSetValidStructuredErrors(vctx, structured_handler, &collector);
                rc = xmlRelaxNGValidateDoc(vctx, doc);
                xmlRelaxNGFreeValidCtxt(vctx);
            } else {
                collector.add(file + ": cannot allocate a RelaxNG validation context");
            }
            xmlFreeDoc(doc);
        }
    }
    if (rc == 0 && collector.messages.empty()) return ok_status();
    if (collector.messages.empty()) collector.add(file + ": document is not valid");
    return invalid(collector.joined());
}

}  // namespace hostdev
