// Small, fast file primitives over POSIX calls, each returning a Result whose
// Error names the path and errno. Used by the sysfs reader on thousands of
// attributes, so they avoid iostreams and allocate only for what they return.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "hostdev/base/result.hpp"

namespace hostdev::fileio {

// Whole small file (sysfs attribute, /proc file). At most max_bytes are read.
// Files under a root are read through FsRoot (fsroot.hpp), which keeps every
// path inside it; these take paths a user named.
Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes = 1 << 20);
// Reads an open descriptor to its end (at most max_bytes); the caller closes it.
Result<std::string> read_fd(int fd, const std::filesystem::path& shown, std::size_t max_bytes);
// Same, relative to an open directory descriptor, read as a sysfs attribute:
// a short first read is the whole file.
Result<std::string> read_file_at(int dirfd, const char* name, const std::filesystem::path& shown,
                                 std::size_t max_bytes = 4096);
// That read on an open descriptor of `name` in the directory messages call
// `shown` (the caller closes it).
Result<std::string> read_attribute_fd(int fd, const std::filesystem::path& shown, const char* name,
                                      std::size_t max_bytes);
// Target of a symbolic link, as written in the link.
Result<std::string> read_link(const std::filesystem::path& path);
Result<std::string> read_link_at(int dirfd, const char* name, const std::filesystem::path& shown);
// Names in a directory, sorted, without "." and "..".
Result<std::vector<std::string>> list_dir(const std::filesystem::path& path);
// The same on an open directory descriptor, which it takes over and closes.
Result<std::vector<std::string>> list_dir_fd(int fd, const std::filesystem::path& shown);
// Does the path exist (without following a final symlink when nofollow)?
bool exists(const std::filesystem::path& path);

// Writes a file atomically: a temporary file beside it, fsync, rename, fsync of
// the directory. mode is used for a new file; an existing file keeps its mode.
// For files hostdev keeps itself (journals); outputs a user names go through
// write_output.
Status write_file_atomic(const std::filesystem::path& path, std::string_view content, unsigned mode = 0644);

// ---- Files hostdev finds by itself (its configuration, its log file) ------
// They are used only when they are regular files: opened with O_NONBLOCK and
// O_NOFOLLOW (a FIFO never blocks, a symbolic link is refused), then checked
// with fstat. A missing file is an error with ENOENT, a directory one with
// EISDIR; a link or another kind of file is an error that says which it is.

// The whole file, at most max_bytes.
Result<std::string> read_regular_file(const std::filesystem::path& path, std::size_t max_bytes);
// Appends `text` in one write(2) with O_APPEND (concurrent writers do not
// interleave), creating the file with `mode` (and the umask) when missing.
Status append_regular_file(const std::filesystem::path& path, std::string_view text, unsigned mode = 0640);

// ---- Outputs a user names (-o FILE, --in-place) ---------------------------
// Writes `content` to what `path` is:
//   - a regular file is replaced atomically (a temporary file in its
//     directory, fsync, rename) with its owner, group and mode kept; when its
//     owner and group cannot be given to the replacement, nothing is written;
//   - a symbolic link is followed and its target replaced, in the target's
//     directory (a dangling link gets its target created);
//   - a character device or FIFO (/dev/null, a terminal, a pipe) is written
//     directly, never renamed over; one of this process's descriptors
//     (/dev/stdout, /dev/fd/N) is written through that descriptor;
//   - a new file is created with mode 0666 less the umask;
//   - a directory, a block device or a socket is refused.
// Temporary files that a killed run left for the same target are removed
// first. Every failed step is an error naming the path and errno. What the
// user should know about a write that worked (a replaced file that had other
// hard links) is added to `notes`.
Status write_output(const std::filesystem::path& path, std::string_view content,
                    std::vector<std::string>* notes = nullptr);

// Lexical join of a symlink's directory and a relative target, with "." and
// ".." folded, no system calls.
std::filesystem::path resolve_link_lexically(const std::filesystem::path& link_dir, std::string_view target);

}  // namespace hostdev::fileio
