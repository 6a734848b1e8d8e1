/**
 * @file negsync.hpp
 * @brief C++17 wrapper of negsync.h: RAII handles, exceptions, IDs as std::array. Header only.
 *
 * Written by hand over the C ABI (include/negsync.h, generated); it adds no allocation of its own
 * beyond the std::string of an error's message. The classes own one C handle each and are
 * move-only: negsync::ItemSet (negsync_set), negsync::Session (negsync_session) and
 * negsync::SyncManager (negsync_manager). Threading is the C ABI's: an ItemSet may be shared by
 * threads; a Session or SyncManager may move between threads but not be used by two at once.
 *
 *     negsync::ItemSet mine, theirs;
 *     mine.insert(1700000000, negsync::id_for_key("nodes::node-1"));
 *     negsync::Session initiator(mine), responder(theirs);
 *     negsync::Bytes message = initiator.initiate();
 *     for (bool done = false; !done;) {
 *         negsync::Bytes reply = responder.reconcile(message).message;
 *         auto step = initiator.reconcile(reply);
 *         message = step.message;
 *         done = step.complete;
 *     }
 *     for (negsync::Id id : initiator.have_ids()) { ... }  // ours, the peer lacks them
 *
 * Every failure throws negsync::Error, which carries the negsync_result (code()) and, for a
 * session or manager call, the handle's last error (detail()). Buffers the library lends
 * (Bytes, IdList) stay valid until the next mutating call on the handle that returned them, or
 * its destruction, exactly as in C.
 */
#ifndef NEGSYNC_HPP
#define NEGSYNC_HPP

#if !defined(__cplusplus) || (__cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L))
#error "negsync.hpp needs C++17; from C or older C++ include negsync.h"
#endif

#include "negsync.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace negsync {

/// A document ID: 32 bytes.
using Id = std::array<std::uint8_t, NEGSYNC_ID_SIZE>;
/// A peer's ID (SyncManager): 32 bytes.
using PeerId = std::array<std::uint8_t, NEGSYNC_PEER_ID_SIZE>;

/// A failed negsync call: the result code, and the handle's explanation when it gave one.
class Error : public std::runtime_error {
public:
    Error(negsync_result code, const char *where, const char *detail)
        : std::runtime_error(compose(code, where, detail)), code_(code),
          detail_(detail != nullptr ? detail : "") {}

    /// The negsync_result (NEGSYNC_MALFORMED_MESSAGE, ...), never NEGSYNC_OK.
    negsync_result code() const noexcept { return code_; }
    /// The session's or manager's last error at the time of the failure ("" when none).
    const std::string &detail() const noexcept { return detail_; }

private:
    static std::string compose(negsync_result code, const char *where, const char *detail) {
        std::string text = where;
        text += ": ";
        text += negsync_result_str(code);
        if (detail != nullptr && *detail != '\0') {
            text += " (";
            text += detail;
            text += ")";
        }
        return text;
    }

    negsync_result code_;
    std::string detail_;
};

namespace detail {
inline void check(negsync_result code, const char *where) {
    if (code != NEGSYNC_OK) {
        throw Error(code, where, nullptr);
    }
}
} // namespace detail

/// Bytes lent by a handle (a message to send): valid until the next mutating call on it.
class Bytes {
public:
    Bytes() noexcept = default;
    Bytes(const std::uint8_t *data, std::size_t size) noexcept : data_(data), size_(size) {}
    const std::uint8_t *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const std::uint8_t *begin() const noexcept { return data_; }
    const std::uint8_t *end() const noexcept { return data_ + size_; }

private:
    const std::uint8_t *data_ = nullptr;
    std::size_t size_ = 0;
};

/// A list of IDs lent by a handle (count * 32 contiguous bytes), read without copying. Valid
/// until the next mutating call on the handle that returned it.
class IdList {
public:
    /// Iterates the IDs, each copied into an Id (32 bytes on the stack, no allocation).
    class iterator {
    public:
        using value_type = Id;
        using difference_type = std::ptrdiff_t;
        using reference = Id;
        using pointer = void;
        using iterator_category = std::input_iterator_tag;

        iterator() noexcept = default;
        explicit iterator(const std::uint8_t *at) noexcept : at_(at) {}
        Id operator*() const noexcept {
            Id id;
            std::memcpy(id.data(), at_, NEGSYNC_ID_SIZE);
            return id;
        }
        iterator &operator++() noexcept {
            at_ += NEGSYNC_ID_SIZE;
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator before = *this;
            ++*this;
            return before;
        }
        bool operator==(const iterator &other) const noexcept { return at_ == other.at_; }
        bool operator!=(const iterator &other) const noexcept { return at_ != other.at_; }

    private:
        const std::uint8_t *at_ = nullptr;
    };

    IdList() noexcept = default;
    IdList(const std::uint8_t *ids, std::size_t count) noexcept : ids_(ids), count_(count) {}
    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return count_ == 0; }
    /// The i-th ID, copied. Throws std::out_of_range past the end.
    Id at(std::size_t i) const {
        if (i >= count_) {
            throw std::out_of_range("negsync::IdList::at");
        }
        return (*this)[i];
    }
    /// The i-th ID, copied; i must be below size().
    Id operator[](std::size_t i) const noexcept {
        Id id;
        std::memcpy(id.data(), ids_ + i * NEGSYNC_ID_SIZE, NEGSYNC_ID_SIZE);
        return id;
    }
    /// The IDs as one contiguous block of size() * NEGSYNC_ID_SIZE bytes.
    const std::uint8_t *data() const noexcept { return ids_; }
    iterator begin() const noexcept { return iterator(ids_); }
    iterator end() const noexcept { return iterator(ids_ + count_ * NEGSYNC_ID_SIZE); }

private:
    const std::uint8_t *ids_ = nullptr;
    std::size_t count_ = 0;
};

/// The ID of a document known by its key alone: SHA-256(key).
inline Id id_for_key(std::string_view key) {
    Id id;
    detail::check(negsync_id_for_key(reinterpret_cast<const std::uint8_t *>(key.data()),
                                     key.size(), id.data()),
                  "negsync_id_for_key");
    return id;
}

/// The ID of one version of a document (its key and a content hash or CRDT heads).
inline Id id_for_version(std::string_view key, std::string_view version) {
    Id id;
    detail::check(negsync_id_for_version(reinterpret_cast<const std::uint8_t *>(key.data()),
                                         key.size(),
                                         reinterpret_cast<const std::uint8_t *>(version.data()),
                                         version.size(), id.data()),
                  "negsync_id_for_version");
    return id;
}

/// The version of the linked library, e.g. "0.1.0".
inline const char *version() noexcept { return negsync_version(); }

/// Owns one C handle; move-only. Base of the three handle classes.
template <typename Handle, void (*Free)(Handle *)>
class Owned {
public:
    Owned(const Owned &) = delete;
    Owned &operator=(const Owned &) = delete;
    Owned(Owned &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Owned &operator=(Owned &&other) noexcept {
        if (this != &other) {
            Free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~Owned() { Free(handle_); }

    /// The C handle, still owned by this object (NULL after a move from it).
    Handle *get() const noexcept { return handle_; }
    /// Gives up ownership: the caller frees the returned handle.
    Handle *release() noexcept { return std::exchange(handle_, nullptr); }

protected:
    explicit Owned(Handle *handle) noexcept : handle_(handle) {}
    Handle *handle_;
};

/// A mutable set of (timestamp, id) items (negsync_set). Internally synchronized.
class ItemSet : public Owned<negsync_set, negsync_set_free> {
public:
    ItemSet() : Owned(create()) {}

    /// Adds one item (a no-op if present). The timestamp UINT64_MAX is reserved.
    void insert(std::uint64_t timestamp, const Id &id) {
        detail::check(negsync_set_insert(handle_, timestamp, id.data()), "negsync_set_insert");
    }
    /// Adds `count` items: timestamps[i] with the ID at ids + 32 * i. All or nothing.
    void insert_many(const std::uint64_t *timestamps, const std::uint8_t *ids, std::size_t count) {
        detail::check(negsync_set_insert_many(handle_, timestamps, ids, count),
                      "negsync_set_insert_many");
    }
    /// Removes one item (a no-op if absent).
    void remove(std::uint64_t timestamp, const Id &id) {
        detail::check(negsync_set_remove(handle_, timestamp, id.data()), "negsync_set_remove");
    }
    /// Makes room for `count` more items.
    void reserve(std::size_t count) {
        detail::check(negsync_set_reserve(handle_, count), "negsync_set_reserve");
    }
    /// Whether the set holds this timestamp with this ID.
    bool contains(std::uint64_t timestamp, const Id &id) const {
        bool found = false;
        detail::check(negsync_set_contains(handle_, timestamp, id.data(), &found),
                      "negsync_set_contains");
        return found;
    }
    /// The number of items.
    std::size_t size() const noexcept { return negsync_set_len(handle_); }

    /// Copies items `start`.. in protocol order into the caller's arrays (room for `capacity`
    /// each; ids holds 32 bytes an item). Returns how many were copied; `*total` (if given)
    /// receives the set's size at the time of the call.
    std::size_t copy_items(std::size_t start, std::uint64_t *timestamps, std::uint8_t *ids,
                           std::size_t capacity, std::size_t *total = nullptr) const {
        std::size_t copied = 0, all = 0;
        detail::check(
            negsync_set_copy_items(handle_, start, timestamps, ids, capacity, &copied, &all),
            "negsync_set_copy_items");
        if (total != nullptr) {
            *total = all;
        }
        return copied;
    }

private:
    static negsync_set *create() {
        negsync_set *set = nullptr;
        detail::check(negsync_set_new(&set), "negsync_set_new");
        return set;
    }
};

/// One reconciliation with one peer (negsync_session), reading a snapshot of an ItemSet.
class Session : public Owned<negsync_session, negsync_session_free> {
public:
    /// What reconcile() returns: the message to send (empty when there is none) and whether the
    /// session is complete (initiator side).
    struct Step {
        Bytes message;
        bool complete;
    };

    /// A session over `set`'s current items; frame_size_limit 0 (none) or at least
    /// NEGSYNC_MIN_FRAME_SIZE_LIMIT (128).
    explicit Session(const ItemSet &set, std::uint64_t frame_size_limit = 0)
        : Owned(create(set, frame_size_limit)) {}

    /// A session over only the items whose timestamps fall in [from, to) (both peers must use
    /// the same window; nothing is copied).
    static Session window(const ItemSet &set, std::uint64_t from, std::uint64_t to,
                          std::uint64_t frame_size_limit = 0) {
        negsync_session *session = nullptr;
        detail::check(negsync_session_new_window(set.get(), from, to, frame_size_limit, &session),
                      "negsync_session_new_window");
        return Session(session);
    }

    /// Becomes the initiator; returns the first message (lent by the session).
    Bytes initiate() {
        const std::uint8_t *msg = nullptr;
        std::size_t len = 0;
        check(negsync_session_initiate(handle_, &msg, &len), "negsync_session_initiate");
        return Bytes(msg, len);
    }
    /// Feeds the peer's message; returns the reply to send (lent by the session).
    Step reconcile(const std::uint8_t *msg, std::size_t len) {
        const std::uint8_t *out = nullptr;
        std::size_t out_len = 0;
        bool complete = false;
        check(negsync_session_reconcile(handle_, msg, len, &out, &out_len, &complete),
              "negsync_session_reconcile");
        return Step{Bytes(out, out_len), complete};
    }
    Step reconcile(const Bytes &msg) { return reconcile(msg.data(), msg.size()); }

    /// IDs we have and the peer lacks (initiator, lent by the session).
    IdList have_ids() const {
        const std::uint8_t *ids = nullptr;
        std::size_t count = 0;
        detail::check(negsync_session_have_ids(handle_, &ids, &count), "negsync_session_have_ids");
        return IdList(ids, count);
    }
    /// IDs the peer has and we lack (initiator, lent by the session).
    IdList need_ids() const {
        const std::uint8_t *ids = nullptr;
        std::size_t count = 0;
        detail::check(negsync_session_need_ids(handle_, &ids, &count), "negsync_session_need_ids");
        return IdList(ids, count);
    }
    /// Forgets the have/need IDs found so far (initiator; read them first): the lists then hold
    /// only what later rounds find. See negsync_session_forget_ids.
    void forget_ids() { check(negsync_session_forget_ids(handle_), "negsync_session_forget_ids"); }
    bool is_complete() const noexcept { return negsync_session_is_complete(handle_); }

    negsync_limits limits() const {
        negsync_limits limits;
        detail::check(negsync_session_get_limits(handle_, &limits), "negsync_session_get_limits");
        return limits;
    }
    void set_limits(const negsync_limits &limits) {
        detail::check(negsync_session_set_limits(handle_, &limits), "negsync_session_set_limits");
    }
    negsync_session_stats stats() const {
        negsync_session_stats stats;
        detail::check(negsync_session_get_stats(handle_, &stats), "negsync_session_get_stats");
        return stats;
    }
    /// Why the last failed call failed ("" when none).
    const char *last_error() const noexcept { return negsync_session_last_error(handle_); }

private:
    explicit Session(negsync_session *adopted) noexcept : Owned(adopted) {}
    static negsync_session *create(const ItemSet &set, std::uint64_t frame_size_limit) {
        negsync_session *session = nullptr;
        detail::check(negsync_session_new(set.get(), frame_size_limit, &session),
                      "negsync_session_new");
        return session;
    }
    void check(negsync_result code, const char *where) const {
        if (code != NEGSYNC_OK) {
            throw Error(code, where, negsync_session_last_error(handle_));
        }
    }
};

/// Which of a peer's two sessions a message belongs to (SyncManager).
enum class Direction : std::uint32_t {
    outbound = NEGSYNC_DIRECTION_OUTBOUND,
    inbound = NEGSYNC_DIRECTION_INBOUND,
};

/// Sessions with many peers, one outbound and one inbound per peer (negsync_manager).
class SyncManager : public Owned<negsync_manager, negsync_manager_free> {
public:
    /// What handle() returns; the reply and the ID lists are lent by the manager.
    struct Handled {
        Bytes reply;
        bool complete;
        IdList have_ids;
        IdList need_ids;
    };

    /// The default configuration (negsync_manager_config_default).
    static negsync_manager_config default_config() {
        negsync_manager_config config;
        detail::check(negsync_manager_config_default(&config), "negsync_manager_config_default");
        return config;
    }

    explicit SyncManager(const ItemSet &set) : SyncManager(set, default_config()) {}
    SyncManager(const ItemSet &set, const negsync_manager_config &config)
        : Owned(create(set, config)) {}

    /// Starts (or restarts) the outbound sync with `peer`; returns the message to send.
    Bytes start(const PeerId &peer, std::uint64_t now) {
        const std::uint8_t *msg = nullptr;
        std::size_t len = 0;
        check(negsync_manager_start(handle_, peer.data(), now, &msg, &len),
              "negsync_manager_start");
        return Bytes(msg, len);
    }
    /// Feeds a message from `peer` to its session in `direction`.
    Handled handle(const PeerId &peer, Direction direction, const std::uint8_t *msg,
                   std::size_t len, std::uint64_t now) {
        negsync_handled out;
        check(negsync_manager_handle(handle_, peer.data(), static_cast<std::uint32_t>(direction),
                                     msg, len, now, &out),
              "negsync_manager_handle");
        return Handled{Bytes(out.reply, out.reply_len), out.complete,
                       IdList(out.have_ids, out.have_count), IdList(out.need_ids, out.need_count)};
    }
    Handled handle(const PeerId &peer, Direction direction, const Bytes &msg, std::uint64_t now) {
        return handle(peer, direction, msg.data(), msg.size(), now);
    }
    /// Ends one session; returns whether there was one.
    bool close(const PeerId &peer, Direction direction) {
        bool closed = false;
        check(negsync_manager_close(handle_, peer.data(), static_cast<std::uint32_t>(direction),
                                    &closed),
              "negsync_manager_close");
        return closed;
    }
    /// Removes sessions idle past the timeout; returns how many.
    std::size_t expire(std::uint64_t now) {
        std::size_t expired = 0;
        check(negsync_manager_expire(handle_, now, &expired), "negsync_manager_expire");
        return expired;
    }
    negsync_manager_stats stats() const {
        negsync_manager_stats stats;
        detail::check(negsync_manager_get_stats(handle_, &stats), "negsync_manager_get_stats");
        return stats;
    }
    const char *last_error() const noexcept { return negsync_manager_last_error(handle_); }

private:
    static negsync_manager *create(const ItemSet &set, const negsync_manager_config &config) {
        negsync_manager *manager = nullptr;
        detail::check(negsync_manager_new(set.get(), &config, &manager), "negsync_manager_new");
        return manager;
    }
    void check(negsync_result code, const char *where) const {
        if (code != NEGSYNC_OK) {
            throw Error(code, where, negsync_manager_last_error(handle_));
        }
    }
};

} // namespace negsync

#endif /* NEGSYNC_HPP */
