#include "storage/http_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "strata/error.h"

namespace strata::storage {

namespace {

// libcurl's global init is not thread-safe; do it once before any handle.
struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
void ensure_curl_global() {
  static CurlGlobal global;
}

constexpr size_t kMaxErrorBody = 1 << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

struct Transfer {
  const HttpRequest* request = nullptr;
  CURL* curl = nullptr;
  HttpResponse response;
  uint64_t read_pos = 0;  // offset into the body
  bool status_known = false;
  bool to_sink = false;
  bool sink_failed = false;
  std::string read_error;  // why reading the request body failed
  // Progress watchdog.
  HttpClient::Clock::time_point deadline;
  uint64_t min_rate = 0;
  curl_off_t last_bytes = -1;
  HttpClient::Clock::time_point last_progress;
  std::chrono::milliseconds stall{0};
  bool stalled = false;
  bool deadline_hit = false;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // A new status line (after "100 Continue", for instance) starts over.
    t->response.headers.clear();
    return line.size();
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                     std::string(trim(line.substr(colon + 1))));
  }
  return line.size();
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (!t->status_known) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    t->status_known = true;
    t->to_sink = t->request->sink && status >= 200 && status < 300;
  }
  if (t->to_sink) {
    if (!t->request->sink(data, len)) {
      t->sink_failed = true;
      return 0;
    }
    return len;
  }
  size_t room = kMaxErrorBody - std::min(kMaxErrorBody, t->response.body.size());
  t->response.body.append(data, std::min(room, len));
  return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const HttpRequest& r = *t->request;
  uint64_t total = r.body_file != nullptr ? r.body_size : r.body.size();
  size_t want = static_cast<size_t>(std::min<uint64_t>(size * n, total - t->read_pos));
  if (want == 0) return 0;
  if (r.body_file == nullptr) {
    std::memcpy(buf, r.body.data() + t->read_pos, want);
    t->read_pos += want;
    return want;
  }
  size_t got = 0;
  try {  // no exception may cross libcurl's C frames
    got = r.body_file->pread(buf, want, r.body_offset + t->read_pos);
  } catch (const std::exception& e) {
    t->read_error = e.what();
    return CURL_READFUNC_ABORT;
  }
  if (got == 0) {
    // A file that shrank under us would otherwise send a short body.
    t->read_error = r.body_file->path() + " shrank while being sent";
    return CURL_READFUNC_ABORT;
  }
  t->read_pos += got;
  return got;
}

// libcurl rewinds the body when it resends a request on a fresh connection
// (a reused connection the server had closed).
int on_seek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  t->read_pos = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t /*ultotal*/,
                curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  auto now = HttpClient::Clock::now();
  curl_off_t bytes = dlnow + ulnow;
  if (bytes != t->last_bytes) {
    t->last_bytes = bytes;
    t->last_progress = now;
  } else if (now - t->last_progress > t->stall) {
    t->stalled = true;
    return 1;
  }
  auto deadline = t->deadline;
  if (t->min_rate > 0 && dltotal > 0) {
    deadline += std::chrono::milliseconds(static_cast<uint64_t>(dltotal) * 1000 / t->min_rate);
  }
  if (now > deadline) {
    t->deadline_hit = true;
    return 1;
  }
  return 0;
}

Transport classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return Transport::kOk;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return Transport::kNetwork;
    case CURLE_OPERATION_TIMEDOUT:
      return Transport::kTimeout;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return Transport::kTls;
    case CURLE_READ_ERROR:
    case CURLE_WRITE_ERROR:
      return Transport::kLocal;
    default:
      return Transport::kOther;
  }
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return std::nullopt;
}

// DNS answers and TLS sessions are shared between handles (and so between
// threads); libcurl needs the locks. Connections stay per handle: libcurl 7.88
// does not support sharing its connection cache between concurrent threads.
struct HttpClient::Share {
  CURLSH* sh = nullptr;
  std::mutex locks[CURL_LOCK_DATA_LAST];

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Share*>(user)->locks[data].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Share*>(user)->locks[data].unlock();
  }
  Share() {
    sh = curl_share_init();
    if (sh == nullptr) throw Error(ErrorCode::kInternal, "curl_share_init failed");
    curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, &Share::lock);
    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, &Share::unlock);
    curl_share_setopt(sh, CURLSHOPT_USERDATA, this);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Share() { curl_share_cleanup(sh); }
};

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  ensure_curl_global();
  share_ = std::make_unique<Share>();
}

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::acquire_handle() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  CURL* h = curl_easy_init();
  if (h == nullptr) throw Error(ErrorCode::kInternal, "curl_easy_init failed");
  return h;
}

void HttpClient::release_handle(void* handle) {
  std::lock_guard lock(pool_mu_);
  idle_.push_back(handle);
}

HttpResult HttpClient::perform(const HttpRequest& request, Clock::time_point deadline,
                               uint64_t min_rate_bytes_per_s) {
  CURL* curl = static_cast<CURL*>(acquire_handle());
  struct Release {
    HttpClient* self;
    CURL* curl;
    ~Release() { self->release_handle(curl); }
  } release{this, curl};
  // Reset keeps the handle's live connections, DNS and TLS session caches.
  curl_easy_reset(curl);

  Transfer t;
  t.request = &request;
  t.curl = curl;
  t.deadline = deadline;
  t.min_rate = min_rate_bytes_per_s;
  t.last_progress = Clock::now();
  t.stall = options_.stall_timeout;

  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_SHARE, share_->sh);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  // The path is canonical already; libcurl must not squash "." or "..".
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_bundle.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);

  uint64_t body_size = request.body_file != nullptr ? request.body_size : request.body.size();
  bool has_body = request.body_file != nullptr || !request.body.empty();
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_size));
  } else {
    if (has_body) {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
    }
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.method == "PUT" || request.method == "POST" || has_body) {
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &on_seek);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &t);
  }

  struct curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // libcurl's defaults are not signed and some servers treat them as content.
  headers = curl_slist_append(headers, "Accept:");
  bool has_content_type =
      std::any_of(request.headers.begin(), request.headers.end(),
                  [](const auto& h) { return lower(h.first) == "content-type"; });
  if (request.method == "POST" && !has_content_type) {
    headers = curl_slist_append(headers, "Content-Type:");
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);

  long connects = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
  connections_ += static_cast<uint64_t>(connects);

  HttpResult result;
  result.transport = classify(code);
  if (code == CURLE_ABORTED_BY_CALLBACK) {
    if (t.stalled) {
      result.transport = Transport::kTimeout;
      result.error = fmt::format("no data moved for {} ms", options_.stall_timeout.count());
    } else {
      result.transport = Transport::kDeadline;
      result.error = "call deadline passed";
    }
  } else if (code != CURLE_OK) {
    result.error = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(code);
    if (t.sink_failed) result.error = "writing the response body failed";
    if (!t.read_error.empty()) {
      result.error = fmt::format("reading the request body failed: {}", t.read_error);
    }
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.response.status);
  result.response = std::move(t.response);
  return result;
}

}  // namespace strata::storage
