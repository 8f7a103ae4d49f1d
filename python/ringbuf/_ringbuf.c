/* ringbuf._ringbuf: the CPython binding of the C API (ringbuf/c_api.h).
 *
 * The Python-facing names and documentation live in ringbuf/__init__.py,
 * which subclasses the Queue type defined here; this file does the parts
 * that must be C to be fast and safe: argument conversion, waiting without
 * the GIL, interruptibility, and the lifetime of the C handles.
 *
 * Waiting. Every call that may wait releases the GIL and waits in slices of
 * at most kSliceNs; between slices it runs the Python signal handlers
 * (PyErr_CheckSignals), so Ctrl-C interrupts a blocked get or put within a
 * slice. A timeout is one deadline on CLOCK_MONOTONIC over all slices, and
 * is reported only once it has passed, as the C API does.
 *
 * Lifetime. A Queue counts its calls in progress (and its open peeks) in
 * `busy`. close() shuts the handle down, which wakes the calls blocked in it
 * with RINGBUF_CANCELLED; the C handle is freed when the last of them has
 * returned, so no thread ever uses a freed handle, and no memoryview of a
 * peeked message outlives the mapping. All of that state is only touched
 * with the GIL held. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringbuf/c_api.h"

/* The longest stretch spent waiting without looking at Python's signals:
 * the worst-case delay of a Ctrl-C. */
static const int64_t kSliceNs = 50 * 1000 * 1000;

/* get_many takes at most this many bytes of slots per call (one message if
 * a slot is larger). Beyond that, the per-call cost is already amortized,
 * while the transient copies (C++ strings, this buffer, the bytes objects)
 * would pass glibc's 128 KiB trim threshold and pay for fresh pages on
 * every call: 4 KiB messages ran 6x slower with 1 MiB. */
static const size_t kBatchBytes = 32u << 10;

/* ---- Exceptions and the Stats class, from ringbuf/_errors.py ----------- */

static PyObject* g_errors_by_code = NULL; /* dict: int code -> class */
static PyObject* g_error = NULL;          /* ringbuf.Error */
static PyObject* g_full = NULL;
static PyObject* g_empty = NULL;
static PyObject* g_full_timeout = NULL;
static PyObject* g_empty_timeout = NULL;
static PyObject* g_stats_class = NULL;

/* Raises `cls(message)` with .code and .code_name set. Returns NULL. */
static PyObject* raise_with(PyObject* cls, int code, const char* message) {
  PyObject* exc = PyObject_CallFunction(cls, "s", message);
  if (exc == NULL) return NULL;
  PyObject* value = PyLong_FromLong(code);
  PyObject* name = PyUnicode_FromString(ringbuf_status_name(code));
  if (value != NULL && name != NULL) {
    PyObject_SetAttrString(exc, "code", value);
    PyObject_SetAttrString(exc, "code_name", name);
  }
  Py_XDECREF(value);
  Py_XDECREF(name);
  PyErr_SetObject((PyObject*)Py_TYPE(exc), exc);
  Py_DECREF(exc);
  return NULL;
}

/* Raises the exception of ringbuf_status `code`, with the C API's message. */
static PyObject* raise_code(int code) {
  PyObject* key = PyLong_FromLong(code);
  if (key == NULL) return NULL;
  PyObject* cls = PyDict_GetItemWithError(g_errors_by_code, key);
  Py_DECREF(key);
  if (cls == NULL && PyErr_Occurred()) return NULL;
  return raise_with(cls != NULL ? cls : g_error, code, ringbuf_last_error());
}

/* ---- Time --------------------------------------------------------------- */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Converts a Python timeout (None or seconds >= 0) into nanoseconds: -1 for
 * None (forever). Returns 0, or -1 with an exception set. */
static int parse_timeout(PyObject* timeout, int64_t* out) {
  if (timeout == NULL || timeout == Py_None) {
    *out = -1;
    return 0;
  }
  double seconds = PyFloat_AsDouble(timeout);
  if (seconds == -1.0 && PyErr_Occurred()) return -1;
  if (!(seconds >= 0)) {
    PyErr_SetString(PyExc_ValueError,
                    "'timeout' must be a non-negative number or None");
    return -1;
  }
  /* Beyond ~292 years is forever. */
  *out = seconds >= 9.2e9 ? -1 : (int64_t)(seconds * 1e9);
  return 0;
}

/* ---- Queue -------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD
  ringbuf_queue* q;
  ringbuf_notifier* notifier; /* created by fileno() */
  pid_t notifier_pid;         /* its thread exists in this process only */
  PyObject* name;             /* str */
  uint64_t capacity;
  uint32_t slot_size;
  uint32_t priorities;
  Py_ssize_t busy;            /* calls in progress + live peeks */
  /* get_many's buffer, kept between calls: a fresh one per call costs the
   * page faults of a new heap extension each time. One caller at a time
   * (batch_busy); a concurrent one allocates its own. */
  char* batch_buf;
  size_t* batch_lens;
  int batch_busy;
  int closing;
  PyObject* owner;            /* the owner= it was opened with, or None */
  PyObject* dict;             /* for the Python subclass's attributes */
  PyObject* weakrefs;
} QueueObject;

/* Frees the C handles (no call may be running). */
static void queue_free_handles(QueueObject* self) {
  if (self->notifier != NULL) {
    /* After fork() the helper thread does not exist in the child: joining
     * it would hang, so the child leaves the notifier alone. */
    if (self->notifier_pid == getpid()) ringbuf_notifier_destroy(self->notifier);
    self->notifier = NULL;
  }
  if (self->q != NULL) {
    ringbuf_close(self->q);
    self->q = NULL;
  }
  PyMem_Free(self->batch_buf);
  PyMem_Free(self->batch_lens);
  self->batch_buf = NULL;
  self->batch_lens = NULL;
}

/* Marks a call in progress; fails (ValueError) on a closed queue. */
static int queue_enter(QueueObject* self) {
  if (self->q == NULL || self->closing) {
    PyErr_Format(PyExc_ValueError, "queue '%U' is closed", self->name);
    return -1;
  }
  ++self->busy;
  return 0;
}

static void queue_leave(QueueObject* self) {
  if (--self->busy == 0 && self->closing) queue_free_handles(self);
}

/* One attempt of an operation, run without the GIL, waiting at most
 * `timeout_ns` (0: once; never negative here). */
typedef int (*attempt_fn)(QueueObject* self, void* ctx, int64_t timeout_ns);

/* Runs `attempt` until it returns something other than
 * RINGBUF_DEADLINE_EXCEEDED (the queue stayed full or empty) or
 * RINGBUF_UNAVAILABLE (a timed slice found the queue's lock busy all along,
 * so it did not look: "try again", as queue.h's "Busy locks" says), or until
 * `timeout_ns` (-1: forever) has passed, without the GIL, checking for
 * signals between slices. Returns the C API code (at the deadline, the last
 * slice's), or -1 with a Python exception set (a signal handler raised). */
static int wait_loop(QueueObject* self, attempt_fn attempt, void* ctx,
                     int64_t timeout_ns) {
  int rc = RINGBUF_DEADLINE_EXCEEDED;
  if (timeout_ns == 0) {
    Py_BEGIN_ALLOW_THREADS
    rc = attempt(self, ctx, 0);
    Py_END_ALLOW_THREADS
    return rc;
  }
  const int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
  for (;;) {
    int64_t slice = kSliceNs;
    if (timeout_ns > 0) {
      const int64_t left = deadline - now_ns();
      if (left <= 0) return rc;
      if (left < slice) slice = left;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = attempt(self, ctx, slice);
    Py_END_ALLOW_THREADS
    if (rc != RINGBUF_DEADLINE_EXCEEDED && rc != RINGBUF_UNAVAILABLE) return rc;
    if (PyErr_CheckSignals() < 0) return -1;
  }
}

/* The exception of a failed send. UNAVAILABLE is Full only from a try
 * (timeout 0: full right now, or the send lock stayed busy for the 10 ms
 * floor, as ringbuf_send says); from a timed call it is a send lock that
 * stayed busy to the deadline, so the queue was never seen full: a plain
 * Error whose code_name is "UNAVAILABLE". The same for receives. */
static PyObject* raise_send_failure(int rc, int64_t timeout_ns) {
  if (rc == RINGBUF_UNAVAILABLE && timeout_ns == 0) {
    return raise_with(g_full, rc, ringbuf_last_error());
  }
  if (rc == RINGBUF_DEADLINE_EXCEEDED) {
    return raise_with(g_full_timeout, rc, ringbuf_last_error());
  }
  return raise_code(rc);
}

static PyObject* raise_receive_failure(int rc, int64_t timeout_ns) {
  if (rc == RINGBUF_UNAVAILABLE && timeout_ns == 0) {
    return raise_with(g_empty, rc, ringbuf_last_error());
  }
  if (rc == RINGBUF_DEADLINE_EXCEEDED) {
    return raise_with(g_empty_timeout, rc, ringbuf_last_error());
  }
  return raise_code(rc);
}

/* Gets the bytes of one message argument: any buffer but str, at most
 * slot_size long. Returns 0, or -1 with TypeError / ValueError set. */
static int get_message(QueueObject* self, PyObject* data, Py_buffer* view,
                       Py_ssize_t index) {
  if (PyUnicode_Check(data)) {
    PyErr_SetString(PyExc_TypeError,
                    "ringbuf messages are bytes, not str: encode it first "
                    "(e.g. text.encode())");
    return -1;
  }
  if (PyObject_GetBuffer(data, view, PyBUF_SIMPLE) < 0) return -1;
  if ((size_t)view->len > self->slot_size) {
    if (index < 0) {
      PyErr_Format(PyExc_ValueError,
                   "queue '%U': message of %zd bytes is longer than the "
                   "slot size %lu",
                   self->name, view->len, (unsigned long)self->slot_size);
    } else {
      PyErr_Format(PyExc_ValueError,
                   "queue '%U': message %zd of %zd bytes is longer than the "
                   "slot size %lu",
                   self->name, index, view->len, (unsigned long)self->slot_size);
    }
    PyBuffer_Release(view);
    return -1;
  }
  return 0;
}

/* -- put -- */

typedef struct {
  Py_buffer view;
  uint32_t priority;
} SendCtx;

static int attempt_send(QueueObject* self, void* ctx, int64_t timeout_ns) {
  const SendCtx* send = ctx;
  return ringbuf_send_priority(self->q, send->view.buf,
                               (size_t)send->view.len, send->priority,
                               timeout_ns);
}

static PyObject* do_put(QueueObject* self, PyObject* data, int64_t timeout_ns,
                        uint32_t priority) {
  SendCtx send;
  send.priority = priority;
  if (queue_enter(self) < 0) return NULL;
  if (get_message(self, data, &send.view, -1) < 0) {
    queue_leave(self);
    return NULL;
  }
  const int rc = wait_loop(self, attempt_send, &send, timeout_ns);
  PyBuffer_Release(&send.view);
  queue_leave(self);
  if (rc == RINGBUF_OK) Py_RETURN_NONE;
  if (rc < 0) return NULL;
  return raise_send_failure(rc, timeout_ns);
}

/* Parses the optional (block=True, timeout=None) arguments of put and get,
 * positional from `first`, or by keyword, into a timeout in nanoseconds (0
 * for block=False); and, if `priority` is not NULL, the keyword-only
 * priority=0 of put. Hand-written: the argument parser of
 * PyArg_ParseTupleAndKeywords costs as much as a whole uncontended send. */
static int parse_block_timeout(const char* function, PyObject* const* args,
                               Py_ssize_t nargs, Py_ssize_t first,
                               PyObject* kwnames, int64_t* timeout_ns,
                               uint32_t* priority) {
  PyObject* block = nargs > first ? args[first] : NULL;
  PyObject* timeout = nargs > first + 1 ? args[first + 1] : NULL;
  PyObject* level = NULL;
  if (nargs > first + 2) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments", function,
                 first + 2);
    return -1;
  }
  const Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t i = 0; i < nkw; ++i) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, i);
    PyObject** slot = NULL;
    if (PyUnicode_CompareWithASCIIString(key, "block") == 0) slot = &block;
    if (PyUnicode_CompareWithASCIIString(key, "timeout") == 0) slot = &timeout;
    if (priority != NULL &&
        PyUnicode_CompareWithASCIIString(key, "priority") == 0) {
      slot = &level;
    }
    if (slot == NULL || *slot != NULL) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected or repeated "
                   "keyword argument '%U'", function, key);
      return -1;
    }
    *slot = args[nargs + i];
  }
  if (level != NULL) {
    const unsigned long p = PyLong_AsUnsignedLong(level);
    if (p == (unsigned long)-1 && PyErr_Occurred()) return -1;
    /* Larger values are out of range for every queue: the library says so. */
    *priority = p > UINT32_MAX ? UINT32_MAX : (uint32_t)p;
  }
  if (block != NULL) {
    const int b = PyObject_IsTrue(block);
    if (b < 0) return -1;
    if (!b) {
      *timeout_ns = 0;
      return 0;
    }
  }
  return parse_timeout(timeout, timeout_ns);
}

static PyObject* queue_put(QueueObject* self, PyObject* const* args,
                           Py_ssize_t nargs, PyObject* kwnames) {
  int64_t timeout_ns;
  if (nargs < 1) {
    PyErr_SetString(PyExc_TypeError, "put() missing its argument 'data'");
    return NULL;
  }
  uint32_t priority = 0;
  if (parse_block_timeout("put", args, nargs, 1, kwnames, &timeout_ns,
                          &priority) < 0) {
    return NULL;
  }
  return do_put(self, args[0], timeout_ns, priority);
}

static PyObject* queue_put_nowait(QueueObject* self, PyObject* data) {
  return do_put(self, data, 0, 0);
}

/* -- get -- */

typedef struct {
  char* buf;
  size_t len;
  uint32_t priority;
} ReceiveCtx;

static int attempt_receive(QueueObject* self, void* ctx, int64_t timeout_ns) {
  ReceiveCtx* r = ctx;
  return ringbuf_receive_priority(self->q, r->buf, self->slot_size, &r->len,
                                  &r->priority, timeout_ns);
}

/* The next message; its priority in *priority if that is not NULL. */
static PyObject* do_get(QueueObject* self, int64_t timeout_ns,
                        uint32_t* priority) {
  if (queue_enter(self) < 0) return NULL;
  /* Received straight into a bytes object of slot_size, then shrunk. */
  PyObject* bytes = PyBytes_FromStringAndSize(NULL, self->slot_size);
  if (bytes == NULL) {
    queue_leave(self);
    return NULL;
  }
  ReceiveCtx r = {PyBytes_AS_STRING(bytes), 0, 0};
  int rc = wait_loop(self, attempt_receive, &r, timeout_ns);
  if (rc == RINGBUF_UNAVAILABLE && timeout_ns == 0 && self->notifier != NULL) {
    /* Empty, with fileno() in use: reset the fd so that it polls readable
     * again exactly when a message comes, and look once more for one that
     * came before the reset (see ringbuf/notifier.h). UNAVAILABLE may still
     * be a busy lock with messages queued: get_async confirms with the
     * depth before it waits on the fd. */
    ringbuf_notifier_clear(self->notifier);
    rc = wait_loop(self, attempt_receive, &r, 0);
  }
  queue_leave(self);
  if (rc != RINGBUF_OK) {
    Py_DECREF(bytes);
    if (rc < 0) return NULL;
    return raise_receive_failure(rc, timeout_ns);
  }
  if (r.len != self->slot_size && _PyBytes_Resize(&bytes, (Py_ssize_t)r.len) < 0) {
    return NULL;
  }
  if (priority != NULL) *priority = r.priority;
  return bytes;
}

static PyObject* queue_get(QueueObject* self, PyObject* const* args,
                           Py_ssize_t nargs, PyObject* kwnames) {
  int64_t timeout_ns;
  if (parse_block_timeout("get", args, nargs, 0, kwnames, &timeout_ns,
                          NULL) < 0) {
    return NULL;
  }
  return do_get(self, timeout_ns, NULL);
}

static PyObject* queue_get_nowait(QueueObject* self, PyObject* unused) {
  (void)unused;
  return do_get(self, 0, NULL);
}

/* get(), returning (message, priority). */
static PyObject* queue_get_with_priority(QueueObject* self,
                                         PyObject* const* args,
                                         Py_ssize_t nargs, PyObject* kwnames) {
  int64_t timeout_ns;
  if (parse_block_timeout("get_with_priority", args, nargs, 0, kwnames,
                          &timeout_ns, NULL) < 0) {
    return NULL;
  }
  uint32_t priority = 0;
  PyObject* message = do_get(self, timeout_ns, &priority);
  if (message == NULL) return NULL;
  PyObject* pair = Py_BuildValue("(NI)", message, (unsigned int)priority);
  return pair;
}

/* -- put_many -- */

typedef struct {
  ringbuf_message* messages;
  size_t count;
  size_t sent; /* over all attempts */
} SendBatchCtx;

static int attempt_send_batch(QueueObject* self, void* ctx, int64_t timeout_ns) {
  SendBatchCtx* b = ctx;
  size_t sent = 0;
  const int rc = ringbuf_send_batch(self->q, b->messages + b->sent,
                                    b->count - b->sent, &sent, timeout_ns);
  b->sent += sent;
  return rc;
}

static PyObject* queue_put_many(QueueObject* self, PyObject* args,
                                PyObject* kwargs) {
  static char* keywords[] = {"messages", "timeout", NULL};
  PyObject* iterable;
  PyObject* timeout = Py_None;
  int64_t timeout_ns;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:put_many", keywords,
                                   &iterable, &timeout)) {
    return NULL;
  }
  if (parse_timeout(timeout, &timeout_ns) < 0) return NULL;
  PyObject* seq = PySequence_Fast(iterable, "put_many() takes an iterable of bytes");
  if (seq == NULL) return NULL;
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  Py_buffer* views = PyMem_Calloc((size_t)n + 1, sizeof(Py_buffer));
  ringbuf_message* messages = PyMem_Calloc((size_t)n + 1, sizeof(ringbuf_message));
  PyObject* result = NULL;
  Py_ssize_t got = 0;
  if (views == NULL || messages == NULL) {
    PyErr_NoMemory();
    goto done;
  }
  if (queue_enter(self) < 0) goto done;
  for (; got < n; ++got) {
    if (get_message(self, PySequence_Fast_GET_ITEM(seq, got), &views[got], got) < 0) {
      break;
    }
    messages[got].data = views[got].buf;
    messages[got].len = (size_t)views[got].len;
  }
  if (got == n) {
    SendBatchCtx ctx = {messages, (size_t)n, 0};
    const int rc = n == 0 ? RINGBUF_OK
                          : wait_loop(self, attempt_send_batch, &ctx, timeout_ns);
    if (rc == RINGBUF_OK) {
      result = PyLong_FromSize_t(ctx.sent);
    } else if (rc > 0) {
      raise_send_failure(rc, timeout_ns);
    }
    if (result == NULL) {
      /* How many did go, for the caller to resume from. */
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      PyErr_NormalizeException(&type, &value, &tb);
      PyObject* sent = PyLong_FromSize_t(ctx.sent);
      if (value != NULL && sent != NULL) PyObject_SetAttrString(value, "sent", sent);
      Py_XDECREF(sent);
      PyErr_Restore(type, value, tb);
    }
  }
  queue_leave(self);
done:
  for (Py_ssize_t i = 0; i < got; ++i) PyBuffer_Release(&views[i]);
  PyMem_Free(views);
  PyMem_Free(messages);
  Py_DECREF(seq);
  return result;
}

/* -- get_many -- */

typedef struct {
  char* buf;
  size_t cap;
  size_t* lens;
  size_t max;
  size_t count;
} ReceiveBatchCtx;

static int attempt_receive_batch(QueueObject* self, void* ctx, int64_t timeout_ns) {
  ReceiveBatchCtx* b = ctx;
  return ringbuf_receive_batch(self->q, b->buf, b->cap, b->lens, b->max,
                               &b->count, timeout_ns);
}

static PyObject* queue_get_many(QueueObject* self, PyObject* args,
                                PyObject* kwargs) {
  static char* keywords[] = {"max_messages", "timeout", NULL};
  Py_ssize_t max_messages;
  PyObject* timeout = Py_None;
  int64_t timeout_ns;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n|O:get_many", keywords,
                                   &max_messages, &timeout)) {
    return NULL;
  }
  if (max_messages < 1) {
    PyErr_SetString(PyExc_ValueError, "get_many(): max_messages must be >= 1");
    return NULL;
  }
  if (parse_timeout(timeout, &timeout_ns) < 0) return NULL;
  if (queue_enter(self) < 0) return NULL;
  size_t max = (size_t)max_messages;
  if (max > self->capacity) max = (size_t)self->capacity;
  const size_t fit = kBatchBytes / self->slot_size;
  if (max > fit) max = fit > 0 ? fit : 1;
  /* The kept buffer holds the largest batch (`fit` slots); take it if free. */
  const size_t kept = fit > 0 ? fit : 1;
  const int use_kept = !self->batch_busy;
  if (use_kept && (self->batch_buf == NULL || self->batch_lens == NULL)) {
    PyMem_Free(self->batch_buf);
    PyMem_Free(self->batch_lens);
    self->batch_buf = PyMem_Malloc(kept * self->slot_size);
    self->batch_lens = PyMem_Malloc(kept * sizeof(size_t));
  }
  ReceiveBatchCtx b = {use_kept ? self->batch_buf : PyMem_Malloc(max * self->slot_size),
                       max * self->slot_size,
                       use_kept ? self->batch_lens : PyMem_Malloc(max * sizeof(size_t)),
                       max, 0};
  if (use_kept) self->batch_busy = 1;
  PyObject* list = NULL;
  if (b.buf == NULL || b.lens == NULL) {
    PyErr_NoMemory();
  } else {
    const int rc = wait_loop(self, attempt_receive_batch, &b, timeout_ns);
    /* Messages taken are returned even if the call then failed (shutdown):
     * they are nowhere else any more. */
    if (rc == RINGBUF_OK || (rc > 0 && b.count > 0)) {
      list = PyList_New((Py_ssize_t)b.count);
      const char* at = b.buf;
      for (size_t i = 0; list != NULL && i < b.count; ++i) {
        PyObject* m = PyBytes_FromStringAndSize(at, (Py_ssize_t)b.lens[i]);
        if (m == NULL) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, m);
        at += b.lens[i];
      }
    } else if (rc > 0) {
      raise_receive_failure(rc, timeout_ns);
    }
  }
  if (use_kept) {
    self->batch_busy = 0;
  } else {
    PyMem_Free(b.buf);
    PyMem_Free(b.lens);
  }
  queue_leave(self);
  return list;
}

/* -- peek -- */

typedef struct {
  PyObject_HEAD
  QueueObject* queue;   /* strong reference; NULL once ended */
  ringbuf_peeked* peeked; /* NULL once released or dropped */
  const void* data;
  size_t len;
  Py_ssize_t exports;   /* live buffers of the message */
  PyObject* view;       /* the memoryview __enter__ returned */
} PeekObject;

static PyTypeObject PeekType;

typedef struct {
  ringbuf_peeked* peeked;
  const void* data;
  size_t len;
} PeekCtx;

static int attempt_peek(QueueObject* self, void* ctx, int64_t timeout_ns) {
  PeekCtx* p = ctx;
  return ringbuf_peek(self->q, timeout_ns, &p->peeked, &p->data, &p->len);
}

/* Lets go of the queue once the peek has ended and no buffer of it is left:
 * until then the queue's mapping must stay (see Lifetime above). */
static void peek_maybe_detach(PeekObject* self) {
  if (self->peeked == NULL && self->exports == 0 && self->queue != NULL) {
    QueueObject* q = self->queue;
    self->queue = NULL;
    queue_leave(q);
    Py_DECREF(q);
  }
}

/* Ends the peek: takes the message (`take`) or leaves it queued. */
static int peek_end(PeekObject* self, int take) {
  int rc = RINGBUF_OK;
  if (self->view != NULL) {
    /* Invalidates the view handed out (a view derived from it may live on,
     * pinning the mapping through `exports`). */
    PyObject* r = PyObject_CallMethod(self->view, "release", NULL);
    if (r == NULL) PyErr_Clear();
    Py_XDECREF(r);
    Py_CLEAR(self->view);
  }
  if (self->peeked != NULL) {
    ringbuf_peeked* p = self->peeked;
    self->peeked = NULL;
    if (take) rc = ringbuf_peeked_release(p);
    else ringbuf_peeked_drop(p);
  }
  peek_maybe_detach(self);
  return rc;
}

static PyObject* queue_peek(QueueObject* self, PyObject* args, PyObject* kwargs) {
  static char* keywords[] = {"timeout", NULL};
  PyObject* timeout = Py_None;
  int64_t timeout_ns;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:peek", keywords, &timeout)) {
    return NULL;
  }
  if (parse_timeout(timeout, &timeout_ns) < 0) return NULL;
  if (queue_enter(self) < 0) return NULL;
  PeekCtx ctx = {NULL, NULL, 0};
  const int rc = wait_loop(self, attempt_peek, &ctx, timeout_ns);
  if (rc != RINGBUF_OK) {
    queue_leave(self);
    if (rc < 0) return NULL;
    return raise_receive_failure(rc, timeout_ns);
  }
  PeekObject* peek = PyObject_New(PeekObject, &PeekType);
  if (peek == NULL) {
    ringbuf_peeked_drop(ctx.peeked);
    queue_leave(self);
    return NULL;
  }
  Py_INCREF(self);
  peek->queue = self; /* keeps the `busy` count taken above */
  peek->peeked = ctx.peeked;
  peek->data = ctx.data;
  peek->len = ctx.len;
  peek->exports = 0;
  peek->view = NULL;
  return (PyObject*)peek;
}

static int peek_getbuffer(PeekObject* self, Py_buffer* view, int flags) {
  if (self->peeked == NULL) {
    PyErr_SetString(PyExc_BufferError, "the peeked message was released");
    view->obj = NULL;
    return -1;
  }
  if (PyBuffer_FillInfo(view, (PyObject*)self, (void*)self->data,
                        (Py_ssize_t)self->len, /*readonly=*/1, flags) < 0) {
    return -1;
  }
  ++self->exports;
  return 0;
}

static void peek_releasebuffer(PeekObject* self, Py_buffer* view) {
  (void)view;
  --self->exports;
  peek_maybe_detach(self);
}

static PyObject* peek_enter(PeekObject* self, PyObject* unused) {
  (void)unused;
  if (self->view == NULL) {
    self->view = PyMemoryView_FromObject((PyObject*)self);
    if (self->view == NULL) return NULL;
  }
  Py_INCREF(self->view);
  return self->view;
}

/* Without an exception the message is taken; with one it stays queued. */
static PyObject* peek_exit(PeekObject* self, PyObject* args) {
  PyObject *type, *value, *tb;
  if (!PyArg_UnpackTuple(args, "__exit__", 3, 3, &type, &value, &tb)) return NULL;
  const int rc = peek_end(self, type == Py_None);
  if (rc != RINGBUF_OK) return raise_code(rc);
  Py_RETURN_FALSE;
}

static PyObject* peek_release(PeekObject* self, PyObject* unused) {
  (void)unused;
  const int rc = peek_end(self, 1);
  if (rc != RINGBUF_OK) return raise_code(rc);
  Py_RETURN_NONE;
}

static PyObject* peek_drop(PeekObject* self, PyObject* unused) {
  (void)unused;
  peek_end(self, 0);
  Py_RETURN_NONE;
}

static void peek_dealloc(PeekObject* self) {
  /* exports is 0 here: every buffer holds a reference to us. */
  peek_end(self, 0);
  PyObject_Free(self);
}

static PyMethodDef peek_methods[] = {
    {"__enter__", (PyCFunction)peek_enter, METH_NOARGS,
     "A read-only memoryview of the message, valid inside the with block."},
    {"__exit__", (PyCFunction)peek_exit, METH_VARARGS,
     "Takes the message, or leaves it queued if the block raised."},
    {"release", (PyCFunction)peek_release, METH_NOARGS,
     "Takes the message and ends the peek."},
    {"drop", (PyCFunction)peek_drop, METH_NOARGS,
     "Ends the peek, leaving the message at the head of the queue."},
    {NULL, NULL, 0, NULL},
};

static PyBufferProcs peek_as_buffer = {
    (getbufferproc)peek_getbuffer,
    (releasebufferproc)peek_releasebuffer,
};

static PyTypeObject PeekType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringbuf.Peek",
    .tp_basicsize = sizeof(PeekObject),
    .tp_dealloc = (destructor)peek_dealloc,
    .tp_as_buffer = &peek_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The oldest message of a queue, seen in place (Queue.peek()).",
    .tp_methods = peek_methods,
};

/* -- the rest of Queue -- */

static PyObject* queue_stats(QueueObject* self, PyObject* unused) {
  (void)unused;
  if (queue_enter(self) < 0) return NULL;
  struct ringbuf_stats s = RINGBUF_STATS_INIT;
  const int rc = ringbuf_stats(self->q, &s);
  queue_leave(self);
  if (rc != RINGBUF_OK) return raise_code(rc);
  PyObject* depths = PyTuple_New(s.priorities);
  if (depths == NULL) return NULL;
  for (uint32_t l = 0; l < s.priorities; ++l) {
    PyObject* d = PyLong_FromUnsignedLongLong(s.depth_by_priority[l]);
    if (d == NULL) {
      Py_DECREF(depths);
      return NULL;
    }
    PyTuple_SET_ITEM(depths, l, d);
  }
  PyObject* kwargs = Py_BuildValue(
      "{s:K,s:I,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:N}",
      "capacity", (unsigned long long)s.capacity, "slot_size", s.slot_size,
      "depth", (unsigned long long)s.depth, "head", (unsigned long long)s.head,
      "tail", (unsigned long long)s.tail, "total_sent",
      (unsigned long long)s.total_sent, "total_received",
      (unsigned long long)s.total_received, "send_lock_owner_deaths",
      (unsigned long long)s.send_lock_owner_deaths, "receive_lock_owner_deaths",
      (unsigned long long)s.receive_lock_owner_deaths, "discarded_partial_sends",
      (unsigned long long)s.discarded_partial_sends,
      "receives_lost_to_dead_consumers",
      (unsigned long long)s.receives_lost_to_dead_consumers, "priorities",
      s.priorities, "depth_by_priority", depths);
  if (kwargs == NULL) return NULL;
  PyObject* empty = PyTuple_New(0);
  PyObject* stats = empty == NULL ? NULL : PyObject_Call(g_stats_class, empty, kwargs);
  Py_XDECREF(empty);
  Py_DECREF(kwargs);
  return stats;
}

static PyObject* queue_fileno(QueueObject* self, PyObject* unused) {
  (void)unused;
  if (queue_enter(self) < 0) return NULL;
  if (self->notifier == NULL) {
    const int rc = ringbuf_notifier_create(self->q, RINGBUF_EVENT_MESSAGES,
                                           &self->notifier);
    if (rc != RINGBUF_OK) {
      queue_leave(self);
      return raise_code(rc);
    }
    self->notifier_pid = getpid();
  }
  const int fd = ringbuf_notifier_fd(self->notifier);
  queue_leave(self);
  return PyLong_FromLong(fd);
}

static PyObject* queue_shutdown(QueueObject* self, PyObject* unused) {
  (void)unused;
  if (self->q != NULL) ringbuf_shutdown(self->q);
  Py_RETURN_NONE;
}

static PyObject* queue_close(QueueObject* self, PyObject* unused) {
  (void)unused;
  if (self->q == NULL || self->closing) Py_RETURN_NONE;
  self->closing = 1;
  if (self->busy > 0) {
    ringbuf_shutdown(self->q); /* the last call to return frees it */
  } else {
    queue_free_handles(self);
  }
  Py_RETURN_NONE;
}

static PyObject* queue_self_enter(QueueObject* self, PyObject* unused) {
  (void)unused;
  if (self->q == NULL || self->closing) {
    PyErr_Format(PyExc_ValueError, "queue '%U' is closed", self->name);
    return NULL;
  }
  Py_INCREF(self);
  return (PyObject*)self;
}

static PyObject* queue_self_exit(QueueObject* self, PyObject* args) {
  (void)args;
  Py_XDECREF(queue_close(self, NULL));
  Py_RETURN_FALSE;
}

/* Wraps the handle an open call returned (`rc`) in a new `cls` object. */
static PyObject* queue_wrap(PyTypeObject* cls, int rc, ringbuf_queue* q,
                            const char* name, PyObject* owner) {
  if (rc != RINGBUF_OK) return raise_code(rc);
  QueueObject* self = (QueueObject*)cls->tp_alloc(cls, 0);
  if (self == NULL) {
    ringbuf_close(q);
    return NULL;
  }
  self->q = q;
  self->capacity = ringbuf_capacity(q);
  self->slot_size = ringbuf_slot_size(q);
  self->priorities = ringbuf_priorities(q);
  Py_INCREF(owner);
  self->owner = owner;
  /* The normalized name, as the C++ API keeps it. */
  self->name = name[0] == '/' ? PyUnicode_FromString(name)
                              : PyUnicode_FromFormat("/%s", name);
  if (self->name == NULL) {
    Py_DECREF(self);
    return NULL;
  }
  return (PyObject*)self;
}

static PyObject* queue_create(PyTypeObject* cls, PyObject* args, PyObject* kwargs) {
  static char* keywords[] = {"name", "capacity", "slot_size", "mode",
                             "priorities", NULL};
  const char* name;
  unsigned long long capacity;
  unsigned long slot_size;
  unsigned int mode = 0600;
  unsigned int priorities = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sKk|I$I:create", keywords,
                                   &name, &capacity, &slot_size, &mode,
                                   &priorities)) {
    return NULL;
  }
  if (slot_size > UINT32_MAX) {
    PyErr_SetString(PyExc_ValueError, "slot_size is out of range");
    return NULL;
  }
  ringbuf_queue* q = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = ringbuf_create_prioritized(name, capacity, (uint32_t)slot_size,
                                  priorities, mode, &q);
  Py_END_ALLOW_THREADS
  return queue_wrap(cls, rc, q, name, Py_None);
}

/* The `owner=` of open, open_or_create and remove, as the C API's `owner`
 * string: None (NULL, the default: this euid and root), "any", a user name,
 * or a uid as an int or a string of digits. A "O&" converter. */
typedef struct {
  PyObject* object;    /* borrowed: the argument */
  const char* spelled; /* NULL, or into `object` or `digits` */
  char digits[24];
} Owner;

static int convert_owner(PyObject* object, void* out) {
  Owner* owner = out;
  owner->object = object;
  owner->spelled = NULL;
  if (object == Py_None) return 1;
  if (PyUnicode_Check(object)) {
    owner->spelled = PyUnicode_AsUTF8(object);
    return owner->spelled != NULL;
  }
  if (PyLong_Check(object) && !PyBool_Check(object)) {
    const unsigned long long uid = PyLong_AsUnsignedLongLong(object);
    if (uid == (unsigned long long)-1 && PyErr_Occurred()) {
      PyErr_Clear();
      PyErr_Format(PyExc_ValueError, "owner=%R is not a uid", object);
      return 0;
    }
    snprintf(owner->digits, sizeof owner->digits, "%llu", uid);
    owner->spelled = owner->digits;
    return 1;
  }
  PyErr_Format(PyExc_TypeError,
               "owner must be None, \"any\", a user name or a uid (int), "
               "not %.100s",
               Py_TYPE(object)->tp_name);
  return 0;
}

static PyObject* queue_open(PyTypeObject* cls, PyObject* args, PyObject* kwargs) {
  static char* keywords[] = {"name", "owner", NULL};
  const char* name;
  Owner owner = {Py_None, NULL, ""};
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|$O&:open", keywords, &name,
                                   convert_owner, &owner)) {
    return NULL;
  }
  ringbuf_queue* q = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = ringbuf_open_trusting(name, owner.spelled, &q);
  Py_END_ALLOW_THREADS
  return queue_wrap(cls, rc, q, name, owner.object);
}

static PyObject* queue_open_or_create(PyTypeObject* cls, PyObject* args,
                                      PyObject* kwargs) {
  static char* keywords[] = {"name", "capacity",   "slot_size", "mode",
                             "priorities", "owner", NULL};
  const char* name;
  unsigned long long capacity;
  unsigned long slot_size;
  unsigned int mode = 0600;
  unsigned int priorities = 1;
  Owner owner = {Py_None, NULL, ""};
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sKk|I$IO&:open_or_create",
                                   keywords, &name, &capacity, &slot_size,
                                   &mode, &priorities, convert_owner, &owner)) {
    return NULL;
  }
  if (slot_size > UINT32_MAX) {
    PyErr_SetString(PyExc_ValueError, "slot_size is out of range");
    return NULL;
  }
  ringbuf_queue* q = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = ringbuf_open_or_create_prioritized(name, capacity, (uint32_t)slot_size,
                                          priorities, mode, owner.spelled, &q);
  Py_END_ALLOW_THREADS
  return queue_wrap(cls, rc, q, name, owner.object);
}

static PyObject* queue_new(PyTypeObject* cls, PyObject* args, PyObject* kwargs) {
  (void)cls;
  (void)args;
  (void)kwargs;
  PyErr_SetString(PyExc_TypeError,
                  "use Queue.create(), Queue.open() or Queue.open_or_create()");
  return NULL;
}

static int queue_traverse(QueueObject* self, visitproc visit, void* arg) {
  Py_VISIT(self->owner);
  Py_VISIT(self->dict);
  return 0;
}

static int queue_clear(QueueObject* self) {
  Py_CLEAR(self->dict);
  return 0;
}

static void queue_dealloc(QueueObject* self) {
  PyObject_GC_UnTrack(self);
  if (self->weakrefs != NULL) PyObject_ClearWeakRefs((PyObject*)self);
  /* busy is 0: calls and peeks hold references. */
  queue_free_handles(self);
  Py_CLEAR(self->name);
  Py_CLEAR(self->owner);
  queue_clear(self);
  /* A subclass's instance: subtype_dealloc, which called us, releases the
   * type. */
  Py_TYPE(self)->tp_free(self);
}

static PyObject* queue_get_name(QueueObject* self, void* unused) {
  (void)unused;
  Py_INCREF(self->name);
  return self->name;
}

static PyObject* queue_get_capacity(QueueObject* self, void* unused) {
  (void)unused;
  return PyLong_FromUnsignedLongLong(self->capacity);
}

static PyObject* queue_get_slot_size(QueueObject* self, void* unused) {
  (void)unused;
  return PyLong_FromUnsignedLong(self->slot_size);
}

static PyObject* queue_get_priorities(QueueObject* self, void* unused) {
  (void)unused;
  return PyLong_FromUnsignedLong(self->priorities);
}

static PyObject* queue_get_closed(QueueObject* self, void* unused) {
  (void)unused;
  return PyBool_FromLong(self->q == NULL || self->closing);
}

/* For pickling (ringbuf/__init__.py): the reopen trusts the same owner. */
static PyObject* queue_get_owner(QueueObject* self, void* unused) {
  (void)unused;
  Py_INCREF(self->owner);
  return self->owner;
}

static PyGetSetDef queue_getset[] = {
    {"name", (getter)queue_get_name, NULL, "The normalized name ('/orders').", NULL},
    {"capacity", (getter)queue_get_capacity, NULL, "How many messages it holds.", NULL},
    {"slot_size", (getter)queue_get_slot_size, NULL, "The longest message, in bytes.", NULL},
    {"priorities", (getter)queue_get_priorities, NULL,
     "Its number of priorities (put's priority= is 0..priorities-1).", NULL},
    {"closed", (getter)queue_get_closed, NULL, "True after close().", NULL},
    {"_owner", (getter)queue_get_owner, NULL, "The owner= of the open.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef queue_methods[] = {
    {"create", (PyCFunction)(void (*)(void))queue_create,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS, NULL},
    {"open", (PyCFunction)(void (*)(void))queue_open,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS, NULL},
    {"open_or_create", (PyCFunction)(void (*)(void))queue_open_or_create,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS, NULL},
    {"put", (PyCFunction)(void (*)(void))queue_put, METH_FASTCALL | METH_KEYWORDS, NULL},
    {"put_nowait", (PyCFunction)queue_put_nowait, METH_O, NULL},
    {"get", (PyCFunction)(void (*)(void))queue_get, METH_FASTCALL | METH_KEYWORDS, NULL},
    {"get_nowait", (PyCFunction)queue_get_nowait, METH_NOARGS, NULL},
    {"get_with_priority", (PyCFunction)(void (*)(void))queue_get_with_priority,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {"put_many", (PyCFunction)(void (*)(void))queue_put_many,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"get_many", (PyCFunction)(void (*)(void))queue_get_many,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"peek", (PyCFunction)(void (*)(void))queue_peek, METH_VARARGS | METH_KEYWORDS, NULL},
    {"stats", (PyCFunction)queue_stats, METH_NOARGS, NULL},
    {"fileno", (PyCFunction)queue_fileno, METH_NOARGS, NULL},
    {"shutdown", (PyCFunction)queue_shutdown, METH_NOARGS, NULL},
    {"close", (PyCFunction)queue_close, METH_NOARGS, NULL},
    {"__enter__", (PyCFunction)queue_self_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)queue_self_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject QueueType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringbuf._ringbuf.Queue",
    .tp_basicsize = sizeof(QueueObject),
    .tp_dealloc = (destructor)queue_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A ringbuf queue handle; see ringbuf.Queue.",
    .tp_traverse = (traverseproc)queue_traverse,
    .tp_clear = (inquiry)queue_clear,
    .tp_weaklistoffset = offsetof(QueueObject, weakrefs),
    .tp_methods = queue_methods,
    .tp_getset = queue_getset,
    .tp_dictoffset = offsetof(QueueObject, dict),
    .tp_new = queue_new,
};

/* ---- Module functions --------------------------------------------------- */

static PyObject* module_remove(PyObject* module, PyObject* args,
                               PyObject* kwargs) {
  (void)module;
  static char* keywords[] = {"name", "owner", NULL};
  const char* name;
  Owner owner = {Py_None, NULL, ""};
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|$O&:remove", keywords,
                                   &name, convert_owner, &owner)) {
    return NULL;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = ringbuf_remove_trusting(name, owner.spelled);
  Py_END_ALLOW_THREADS
  if (rc != RINGBUF_OK) return raise_code(rc);
  Py_RETURN_NONE;
}

static PyObject* module_version(PyObject* module, PyObject* unused) {
  (void)module;
  (void)unused;
  return PyUnicode_FromString(ringbuf_version());
}

static PyMethodDef module_methods[] = {
    {"remove", (PyCFunction)(void (*)(void))module_remove,
     METH_VARARGS | METH_KEYWORDS, "Unlinks the queue's name."},
    {"version", module_version, METH_NOARGS, "ringbuf_version()."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "ringbuf._ringbuf",
    "The C binding of ringbuf; use the ringbuf package.", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

static int fetch(PyObject* from, const char* attr, PyObject** out) {
  *out = PyObject_GetAttrString(from, attr);
  return *out == NULL ? -1 : 0;
}

PyMODINIT_FUNC PyInit__ringbuf(void) {
  PyObject* errors = PyImport_ImportModule("ringbuf._errors");
  if (errors == NULL) return NULL;
  const int failed =
      fetch(errors, "BY_CODE", &g_errors_by_code) < 0 ||
      fetch(errors, "Error", &g_error) < 0 || fetch(errors, "Full", &g_full) < 0 ||
      fetch(errors, "Empty", &g_empty) < 0 ||
      fetch(errors, "FullTimeout", &g_full_timeout) < 0 ||
      fetch(errors, "EmptyTimeout", &g_empty_timeout) < 0 ||
      fetch(errors, "Stats", &g_stats_class) < 0;
  Py_DECREF(errors);
  if (failed) return NULL;
  if (PyType_Ready(&QueueType) < 0 || PyType_Ready(&PeekType) < 0) return NULL;
  PyObject* module = PyModule_Create(&module_def);
  if (module == NULL) return NULL;
  Py_INCREF(&QueueType);
  if (PyModule_AddObject(module, "Queue", (PyObject*)&QueueType) < 0) {
    Py_DECREF(&QueueType);
    Py_DECREF(module);
    return NULL;
  }
  return module;
}
