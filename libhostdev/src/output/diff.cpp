#include "hostdev/output/diff.hpp"

#include <algorithm>
#include <vector>

namespace hostdev {
namespace {

std::vector<std::string_view> split_lines(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t nl = s.find('\n', i);
        if (nl == std::string_view::npos) nl = s.size() - 1;
        out.push_back(s.substr(i, nl - i + 1));
        i = nl + 1;
    }
    return out;
}

enum class Op { Keep, Del, Add };
struct Edit {
    Op op;
    std::size_t a;  // index in before (Keep/Del)
    std::size_t b;  // index in after (Keep/Add)
};

// Myers' O((N+M)D) shortest edit script.
std::vector<Edit> myers(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
    const long n = static_cast<long>(a.size()), m = static_cast<long>(b.size());
    const long max = n + m;
    std::vector<long> v(static_cast<std::size_t>(2 * max + 2), 0);
    std::vector<std::vector<long>> trace;
    const long off = max + 1;
    for (long d = 0; d <= max; ++d) {
        trace.push_back(v);
        for (long k = -d; k <= d; k += 2) {
            long x;
            if (k == -d ||
                (k != d && v[static_cast<std::size_t>(off + k - 1)] < v[static_cast<std::size_t>(off + k + 1)]))
                x = v[static_cast<std::size_t>(off + k + 1)];
            else
                x = v[static_cast<std::size_t>(off + k - 1)] + 1;
            long y = x - k;
            while (x < n && y < m && a[static_cast<std::size_t>(x)] == b[static_cast<std::size_t>(y)]) ++x, ++y;
            v[static_cast<std::size_t>(off + k)] = x;
            if (x >= n && y >= m) {
                // Backtrack.
                std::vector<Edit> edits;
                long cx = n, cy = m;
                for (long dd = d; dd > 0; --dd) {
                    const auto& pv = trace[static_cast<std::size_t>(dd)];
                    long ck = cx - cy;
                    long pk;
                    if (ck == -dd || (ck != dd && pv[static_cast<std::size_t>(off + ck - 1)] <
                                                      pv[static_cast<std::size_t>(off + ck + 1)]))
                        pk = ck + 1;
                    else
                        pk = ck - 1;
                    long px = pv[static_cast<std::size_t>(off + pk)];
                    long py = px - pk;
                    while (cx > px && cy > py) {
                        --cx, --cy;
                        edits.push_back({Op::Keep, static_cast<std::size_t>(cx), static_cast<std::size_t>(cy)});
                    }
                    if (cx == px) {
                        --cy;
                        edits.push_back({Op::Add, static_cast<std::size_t>(cx), static_cast<std::size_t>(cy)});
                    } else {
                        --cx;
                        edits.push_back({Op::Del, static_cast<std::size_t>(cx), static_cast<std::size_t>(cy)});
                    }
                }
                while (cx > 0 && cy > 0) {
                    --cx, --cy;
                    edits.push_back({Op::Keep, static_cast<std::size_t>(cx), static_cast<std::size_t>(cy)});
                }
                std::reverse(edits.begin(), edits.end());
                return edits;
            }
        }
    }
    return {};
}

void put_line(std::string& out, char mark, std::string_view line) {
    out += mark;
    out += line;
    if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, std::string_view before_name,
                         std::string_view after_name, int context) {
    if (before == after) return {};
    auto a = split_lines(before);
    auto b = split_lines(after);
    // Common head and tail are kept as they are; Myers runs on the middle only,
    // so its trace stays small on large documents with a few changes.
    std::size_t head = 0;
    while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
    std::size_t tail = 0;
    while (tail < a.size() - head && tail < b.size() - head && a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) ++tail;
    std::vector<std::string_view> am(a.begin() + static_cast<long>(head), a.end() - static_cast<long>(tail));
    std::vector<std::string_view> bm(b.begin() + static_cast<long>(head), b.end() - static_cast<long>(tail));
    std::vector<Edit> edits;
    edits.reserve(a.size() + bm.size());
    for (std::size_t i = 0; i < head; ++i) edits.push_back({Op::Keep, i, i});
    for (const auto& e : myers(am, bm)) edits.push_back({e.op, e.a + head, e.b + head});
    for (std::size_t i = 0; i < tail; ++i) edits.push_back({Op::Keep, a.size() - tail + i, b.size() - tail + i});
    std::string out = "--- " + std::string(before_name) + "\n+++ " + std::string(after_name) + "\n";
    const std::size_t ctx = static_cast<std::size_t>(context);
    std::size_t i = 0;
    while (i < edits.size()) {
        if (edits[i].op == Op::Keep) {
            ++i;
            continue;
        }
        // A hunk: from ctx lines before this change to ctx lines after the last change within 2*ctx.
        std::size_t start = i >= ctx ? i - ctx : 0;
        std::size_t end = i;
        std::size_t last_change = i;
        while (end < edits.size()) {
            if (edits[end].op != Op::Keep)
                last_change = end;
            else if (end - last_change > 2 * ctx)
                break;
            ++end;
        }
        end = std::min(edits.size(), last_change + ctx + 1);
        std::size_t a_start = edits[start].a, b_start = edits[start].b, a_len = 0, b_len = 0;
        for (std::size_t j = start; j < end; ++j) {
            if (edits[j].op != Op::Add) ++a_len;
            if (edits[j].op != Op::Del) ++b_len;
        }
        auto range = [](std::size_t s, std::size_t len) {
            return std::to_string(len == 0 ? s : s + 1) + (len == 1 ? "" : "," + std::to_string(len));
        };
        out += "@@ -" + range(a_start, a_len) + " +" + range(b_start, b_len) + " @@\n";
        for (std::size_t j = start; j < end; ++j) {
            switch (edits[j].op) {
                case Op::Keep: put_line(out, ' ', a[edits[j].a]); break;
                case Op::Del: put_line(out, '-', a[edits[j].a]); break;
                case Op::Add: put_line(out, '+', b[edits[j].b]); break;
            }
        }
        i = end;
    }
    return out;
}

}  // namespace hostdev
