// The routes of docs/api.md. Every handler checks all of its input before
// it writes anything, and answers errors as JSON with the status of
// http_status().
#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/daemon.h"
#include "server/entry_json.h"
#include "strata/hash.h"
#include "strata/utf8.h"

namespace strata::server {

namespace {

using Clock = std::chrono::steady_clock;
using httplib::ContentReader;
using httplib::Request;
using httplib::Response;

// A seq or a count: decimal digits only, within 64 bits.
std::optional<uint64_t> parse_number(std::string_view text) {
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != text.npos) {
    return std::nullopt;
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// Refuses query parameters the route does not take (a typo must not be
// silently ignored: `?durabilty=remote` would otherwise acknowledge early).
bool only_params(const Request& req, Response& res, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : req.params) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || name == k;
    if (!ok) {
      send_error(res, 400, "INVALID_ARGUMENT",
                 fmt::format("unknown query parameter '{}'", name.substr(0, 100)));
      return false;
    }
  }
  return true;
}

void post_entries(Daemon& d, const Request& req, Response& res, const ContentReader& reader) {
  auto body = d.http().read_body(req, res, reader);
  if (!body) return;
  if (!only_params(req, res, {"durability"})) return;
  const std::string durability =
      req.has_param("durability") ? req.get_param_value("durability") : "local";
  if (durability != "local" && durability != "remote") {
    send_error(
        res, 400, "INVALID_ARGUMENT",
        fmt::format("durability: expected local or remote, got '{}'", durability.substr(0, 100)));
    return;
  }
  ParsedEntries parsed;
  try {
    parsed = parse_entries_body(*body);
  } catch (const Error& e) {
    send_error(res, e);
    return;
  }
  const auto start = Clock::now();
  uint64_t last = 0;
  try {
    last = parsed.batch ? d.wal().append_batch(parsed.entries) : d.wal().append(parsed.entries[0]);
  } catch (const Error& e) {
    d.metrics().observe_append(0, false);
    send_error(res, e);
    return;
  }
  d.metrics().observe_append(std::chrono::duration<double>(Clock::now() - start).count(), true);
  const uint64_t first = last - parsed.entries.size() + 1;
  if (durability == "local") {
    // The common answer, formatted directly rather than built as a JSON
    // object and dumped (this is the route every append takes).
    res.status = 200;
    res.set_content(parsed.batch ? fmt::format(R"({{"first_seq":{},"last_seq":{},"count":{}}})",
                                               first, last, parsed.entries.size())
                                 : fmt::format(R"({{"seq":{}}})", last),
                    "application/json");
    return;
  }
  nlohmann::json out = parsed.batch ? nlohmann::json{{"first_seq", first},
                                                     {"last_seq", last},
                                                     {"count", parsed.entries.size()}}
                                    : nlohmann::json{{"seq", last}};
  out["durability"] = "remote";
  d.scheduler().kick("object");
  if (!d.object_tier()->wait_confirmed(last, d.options().remote_wait)) {
    out["error"] = {{"code", "TIMEOUT"},
                    {"message", fmt::format("the object store had not confirmed seq {} within "
                                            "STRATA_REMOTE_WAIT_MS ({} ms); the entries are "
                                            "durable locally and will still be shipped",
                                            last, d.options().remote_wait.count())}};
    send_json(res, 504, out);
    return;
  }
  send_json(res, 200, out);
}

void get_entry(Daemon& d, const Request& req, Response& res) {
  if (!only_params(req, res, {})) return;
  const std::string text = req.matches[1];
  auto seq = parse_number(text);
  if (!seq || *seq == 0) {
    send_error(res, 400, "INVALID_ARGUMENT",
               fmt::format("'{}' is not a seq (a whole number from 1)", text.substr(0, 100)));
    return;
  }
  auto e = d.wal().read_entry(*seq);
  if (!e) {
    const WalStatus st = d.wal().status();
    send_error(res, 404, "NOT_FOUND",
               fmt::format("no entry with seq {} (the log holds seqs {} to {})", *seq, st.first_seq,
                           st.head_seq));
    return;
  }
  EntryView v{e->seq, e->timestamp_ms, e->type, e->op, e->path, e->data};
  send_json(res, 200, entry_to_json(v));
}

void get_entries(Daemon& d, const Request& req, Response& res) {
  if (!only_params(req, res, {"since", "limit"})) return;
  uint64_t since = 0;
  uint64_t limit = 0;
  for (auto [name, target] :
       {std::pair<const char*, uint64_t*>{"since", &since}, {"limit", &limit}}) {
    if (!req.has_param(name)) continue;
    auto v = parse_number(req.get_param_value(name));
    if (!v) {
      send_error(res, 400, "INVALID_ARGUMENT",
                 fmt::format("{}: expected a whole number, got '{}'", name,
                             req.get_param_value(name).substr(0, 100)));
      return;
    }
    *target = *v;
  }
  struct Cursor {
    uint64_t since;
    uint64_t left;  // 0 with unlimited: everything
    bool unlimited;
  };
  auto cur = std::make_shared<Cursor>(Cursor{since, limit, limit == 0});
  Wal* wal = &d.wal();
  res.status = 200;
  res.set_chunked_content_provider(
      "application/x-ndjson", [wal, cur](size_t, httplib::DataSink& sink) {
        // A batch at a time, so the WAL's readers are never held while a
        // slow client drains the socket.
        constexpr uint64_t kBatch = 1000;
        constexpr size_t kBytes = 1 << 20;
        std::string buf;
        const uint64_t want = cur->unlimited ? kBatch : std::min(kBatch, cur->left);
        try {
          wal->replay_view(cur->since, want, [&](const EntryView& e) {
            append_entry_line(e, buf);
            cur->since = e.seq;
            if (!cur->unlimited) cur->left--;
            return buf.size() < kBytes;
          });
        } catch (const std::exception& e) {
          // The status line is gone: cutting the stream (no last chunk) is
          // how the client learns. The intact entries before the damage go
          // out first; a reader needs them, and they are all it gets.
          spdlog::warn("GET /v1/entries stream cut: {}", e.what());
          if (!buf.empty()) sink.write(buf.data(), buf.size());
          return false;
        }
        if (!buf.empty() && !sink.write(buf.data(), buf.size())) return false;
        if (buf.empty() || (!cur->unlimited && cur->left == 0)) sink.done();
        return true;
      });
}

void get_state(Daemon& d, const Request& req, Response& res) {
  if (!only_params(req, res, {})) return;
  const std::string path = req.matches[1];
  std::optional<StateFile> f;
  try {
    f = d.state().read(d.wal(), path);
  } catch (const Error& e) {
    send_error(res, e);
    return;
  }
  if (!f) {
    send_error(res, 404, "NOT_FOUND",
               fmt::format("no file '{}' in the state", path.substr(0, 200)));
    return;
  }
  nlohmann::json j = {{"path", path}, {"seq", f->seq}, {"bytes", f->data.size()}};
  if (is_valid_utf8(f->data)) {
    j["data"] = f->data;
  } else {
    j["data_b64"] = base64_encode(f->data);
  }
  j["sha256"] = sha256_hex(f->data);
  send_json(res, 200, j);
}

void run_tier(Daemon& d, const Request& req, Response& res, const ContentReader& reader,
              const std::string& tier) {
  if (!d.http().read_body(req, res, reader)) return;
  if (!only_params(req, res, {})) return;
  try {
    JobResult r = d.scheduler().run_now(tier);
    nlohmann::json out = {{"tier", tier}, {"summary", r.summary}, {"result", r.detail}};
    out["confirmed_seq"] = r.confirmed_seq ? nlohmann::json(*r.confirmed_seq) : nullptr;
    send_json(res, 200, out);
  } catch (const Error& e) {
    send_error(res, e);
  }
}

void post_snapshot(Daemon& d, const Request& req, Response& res, const ContentReader& reader) {
  if (!d.http().read_body(req, res, reader)) return;
  if (!only_params(req, res, {})) return;
  try {
    JobResult r = d.object_tier()->snapshot();
    send_json(res, 200, {{"tier", "object"}, {"summary", r.summary}, {"result", r.detail}});
  } catch (const Error& e) {
    send_error(res, e);
  }
}

}  // namespace

void register_routes(Daemon& d) {
  // The event loop answers the common POST /v1/entries itself (the same
  // checks, JSON decoding and answers as post_entries below); what it does
  // not take comes here.
  d.http().set_wal(&d.wal());
  httplib::Server& s = d.http().routes();
  s.Post("/v1/entries", [&d](const Request& req, Response& res, const ContentReader& reader) {
    post_entries(d, req, res, reader);
  });
  s.Get("/v1/entries", [&d](const Request& req, Response& res) { get_entries(d, req, res); });
  s.Get(R"(/v1/entries/(.*))", [&d](const Request& req, Response& res) { get_entry(d, req, res); });
  s.Get(R"(/v1/state/(.*))", [&d](const Request& req, Response& res) { get_state(d, req, res); });
  s.Get("/v1/status", [&d](const Request& req, Response& res) {
    if (only_params(req, res, {})) send_json(res, 200, d.status_json());
  });
  s.Post("/v1/sync", [&d](const Request& req, Response& res, const ContentReader& reader) {
    run_tier(d, req, res, reader, "object");
  });
  s.Post("/v1/archive", [&d](const Request& req, Response& res, const ContentReader& reader) {
    run_tier(d, req, res, reader, "git");
  });
  s.Post("/v1/snapshot", [&d](const Request& req, Response& res, const ContentReader& reader) {
    post_snapshot(d, req, res, reader);
  });
  s.Get("/metrics", [&d](const Request&, Response& res) {
    res.status = 200;
    res.set_content(d.metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/healthz", [](const Request&, Response& res) {
    send_json(res, 200, {{"status", "alive"}});
  });
  s.Get("/readyz", [&d](const Request&, Response& res) {
    auto reason = d.not_ready_reason();
    if (reason) {
      send_json(res, 503, {{"ready", false}, {"reason", *reason}});
    } else {
      send_json(res, 200, {{"ready", true}});
    }
  });
}

}  // namespace strata::server
