/* The hot path of perflab's lockwatch in C: a watched lock's __enter__ and __exit__.
 *
 * _lockwatch.py's watched locks subclass the Books type below. An uncontended `with lock:`
 * then runs no Python code at all: the books (owner, count, since, the taking site, the
 * thread's held list) are kept here, and everything rarer (a wait, a first ordered pair, a long
 * hold) calls back into the subclass's Python methods (_wait, _learn_all, _long_hold), which
 * are the same ones the pure-Python Books of _lockwatch.py uses. The fields are the Python
 * Books' slots, of the same names, so the subclass reads and writes them either way.
 *
 * Compiled on first use against the running interpreter's headers (_cbuild.py); the CPython
 * API used is the stable part of 3.11's (PyFrame_GetBack, PyFrame_GetCode, PyFrame_GetLasti).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <frameobject.h>
#include <pythread.h>

/* On CPython 3.11 the taking site is read from the interpreter's own frame records, as Cython
 * reads them: asking for a frame object (PyEval_GetFrame) makes the interpreter build one for
 * the caller, and free it when the caller returns, on every call of a function that takes a
 * lock (about a point of the service's CPU of the two the books cost). Other versions keep the
 * public API; a frame object is still built, on every version, when an order is learnt (rare:
 * its stack is kept). */
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#define LOCKWATCH_INTERNAL_FRAMES 1
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#include <internal/pycore_frame.h>
#endif

typedef struct {
    PyObject_HEAD
    PyObject *try_;       /* the lock's acquire, bound once */
    PyObject *release;    /* the lock's release, bound once */
    PyObject *code;       /* the taking site: its code object ... */
    PyObject *preds;      /* serials of the locks seen held before this one: a set, or None */
    PyObject *serial;     /* this lock's number (an int) */
    int lasti;            /* ... and the instruction's byte offset */
    int depth;            /* how far up __enter__'s caller is: 2 for a Condition's own lock */
    Py_ssize_t count;     /* holds by the owner (an RLock's re-entries) */
    double since;         /* the hold clock when it was taken */
    unsigned long owner;  /* the owning thread's ident, when owned */
    int owned;
} Books;

/* module state: set once by setup(), the clock by set_clock() */
static PyObject *held_by_thread = NULL;   /* _lockwatch._held: ident -> list (a defaultdict) */
static PyObject *condition_enter = NULL;  /* threading.Condition.__enter__'s code object */
static PyObject *str_wait = NULL, *str_learn_all = NULL, *str_long_hold = NULL;
static PyTypeObject *books_type = NULL;
static double clock_now = 0.0;
static double clock_horizon = -1.0;

static int
Books_traverse(Books *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->try_);
    Py_VISIT(self->release);
    Py_VISIT(self->code);
    Py_VISIT(self->preds);
    Py_VISIT(self->serial);
    return 0;
}

static int
Books_clear(Books *self)
{
    Py_CLEAR(self->try_);
    Py_CLEAR(self->release);
    Py_CLEAR(self->code);
    Py_CLEAR(self->preds);
    Py_CLEAR(self->serial);
    return 0;
}

static void
Books_dealloc(Books *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Books_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* This thread's held list, kept at hand: looking it up by ident makes an int and a dict
 * lookup per enter and per exit (a third of what the books cost). A strong reference, so it
 * stays valid whatever happens to the dict's entry (only a forked child drops entries, and only
 * those of threads it does not have). A new thread, even one given a dead thread's ident, starts
 * with none and looks its list up. */
static _Thread_local unsigned long my_ident = 0;
static _Thread_local PyObject *my_held = NULL;

/* Whether `obj` is a Books: a held list holds nothing else, but it is a list anyone could
 * append to; the two concrete classes are remembered, so the check is a compare. */
static PyTypeObject *known_books[2] = {NULL, NULL};

static int
is_books(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == known_books[0] || tp == known_books[1])
        return 1;
    if (!PyObject_TypeCheck(obj, books_type))
        return 0;
    if (known_books[0] == NULL)
        known_books[0] = tp;  /* borrowed: the classes live as long as the module's users */
    else if (known_books[1] == NULL)
        known_books[1] = tp;
    return 1;
}

/* The held list of thread `ident` (created empty by the defaultdict), a new reference. */
static PyObject *
held_list(unsigned long ident)
{
    if (my_held != NULL && my_ident == ident)
        return Py_NewRef(my_held);
    PyObject *key = PyLong_FromUnsignedLong(ident);
    if (key == NULL)
        return NULL;
    PyObject *held = PyObject_GetItem(held_by_thread, key);
    Py_DECREF(key);
    if (held != NULL && !PyList_Check(held)) {
        Py_DECREF(held);
        PyErr_SetString(PyExc_TypeError, "lockwatch: a held list is not a list");
        return NULL;
    }
    if (held != NULL && ident == PyThread_get_thread_ident()) {
        Py_XSETREF(my_held, Py_NewRef(held));
        my_ident = ident;
    }
    return held;
}

/* The frame `depth` calls up from the caller of __enter__ (depth 1: that caller), a new
 * reference, or NULL without an exception when the stack is not that deep. */
static PyFrameObject *
caller_frame(int depth)
{
    PyFrameObject *frame = PyEval_GetFrame();  /* borrowed: the caller of this C method */
    if (frame == NULL)
        return NULL;
    Py_INCREF(frame);
    for (int i = 1; i < depth; i++) {
        PyFrameObject *back = PyFrame_GetBack(frame);
        if (back == NULL)
            return frame;  /* not that deep: the deepest there is, as _getframe(1) */
        Py_DECREF(frame);
        frame = back;
    }
    return frame;
}

#ifdef LOCKWATCH_INTERNAL_FRAMES
/* The interpreter frame `depth` calls up from the caller of __enter__, as caller_frame finds
 * it, without a frame object; NULL when there is none. */
static _PyInterpreterFrame *
skip_incomplete(_PyInterpreterFrame *f)
{
    while (f != NULL && _PyFrame_IsIncomplete(f))
        f = f->previous;
    return f;
}

static _PyInterpreterFrame *
caller_record(int depth)
{
    _PyInterpreterFrame *f = skip_incomplete(PyThreadState_Get()->cframe->current_frame);
    for (int i = 1; f != NULL && i < depth; i++) {
        _PyInterpreterFrame *back = skip_incomplete(f->previous);
        if (back == NULL)
            break;  /* not that deep: the deepest there is */
        f = back;
    }
    return f;
}

/* The taking site (new reference to its code, and its byte offset) from the records. */
static PyObject *
site_of(int depth, int *lasti)
{
    _PyInterpreterFrame *f = caller_record(depth);
    if (f == NULL)
        return NULL;
    if ((PyObject *)f->f_code == condition_enter) {  /* `with condition:`: its caller's */
        _PyInterpreterFrame *back = skip_incomplete(f->previous);
        if (back != NULL)
            f = back;
    }
    *lasti = _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT);
    return Py_NewRef((PyObject *)f->f_code);
}
#endif

/* The frame object of the taking site, for _learn_all's stack (a new reference, or NULL). */
static PyFrameObject *
site_frame(int depth)
{
    PyFrameObject *frame = caller_frame(depth);
    if (frame != NULL) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        int is_condition = (PyObject *)code == condition_enter;
        Py_DECREF(code);
        if (is_condition) {
            PyFrameObject *back = PyFrame_GetBack(frame);
            if (back != NULL) {
                Py_DECREF(frame);
                frame = back;
            }
        }
    }
    return frame;
}

static PyObject *
Books_enter(Books *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *got = PyObject_CallOneArg(self->try_, Py_False);
    if (got == NULL)
        return NULL;
    int free_now = PyObject_IsTrue(got);
    Py_DECREF(got);
    if (free_now < 0)
        return NULL;
    if (!free_now) {  /* contended (or an RLock of ours already): a recorded wait */
        PyObject *waited = PyObject_CallMethodNoArgs((PyObject *)self, str_wait);
        if (waited == NULL)
            return NULL;
        Py_DECREF(waited);
    }
    unsigned long me = PyThread_get_thread_ident();
    if (self->owned && self->owner == me) {  /* an RLock re-entered */
        self->count += 1;
        Py_RETURN_TRUE;
    }
    self->owner = me;
    self->owned = 1;
    self->count = 1;
    self->since = clock_now;

#ifdef LOCKWATCH_INTERNAL_FRAMES
    PyFrameObject *frame = NULL;  /* built only when an order is learnt */
    Py_XSETREF(self->code, site_of(self->depth, &self->lasti));  /* NULL: no site */
#else
    PyFrameObject *frame = site_frame(self->depth);
    PyObject *code = NULL;
    if (frame != NULL) {
        code = (PyObject *)PyFrame_GetCode(frame);
        self->lasti = PyFrame_GetLasti(frame);
    }
    Py_XSETREF(self->code, code);  /* steals the new reference (NULL: no site) */
#endif

    PyObject *held = held_list(me);
    if (held == NULL) {
        Py_XDECREF(frame);
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(held);
    if (n > 0) {  /* locks already held: an order to learn, unless this one was seen before */
        int seen = 0;
        if (self->preds != NULL && self->preds != Py_None && n == 1) {
            PyObject *before = PyList_GET_ITEM(held, 0);  /* a Books: only they are held */
            seen = is_books(before) ? PySet_Contains(self->preds, ((Books *)before)->serial)
                                    : 0;
            if (seen < 0) {
                Py_DECREF(held);
                Py_XDECREF(frame);
                return NULL;
            }
        }
        if (!seen) {
#ifdef LOCKWATCH_INTERNAL_FRAMES
            frame = site_frame(self->depth);  /* the stack of a pair is kept: a frame object */
#endif
            PyObject *learnt = PyObject_CallMethodObjArgs(
                (PyObject *)self, str_learn_all, held, frame ? (PyObject *)frame : Py_None,
                NULL);
            if (learnt == NULL) {
                Py_DECREF(held);
                Py_XDECREF(frame);
                return NULL;
            }
            Py_DECREF(learnt);
        }
    }
    Py_XDECREF(frame);
    int appended = PyList_Append(held, (PyObject *)self);
    Py_DECREF(held);
    if (appended < 0)
        return NULL;
    Py_RETURN_TRUE;
}

static PyObject *
Books_exit(Books *self, PyObject *const *Py_UNUSED(args), Py_ssize_t Py_UNUSED(nargs))
{
    if (self->count > 1) {  /* an RLock's inner exit: the books stay */
        self->count -= 1;
        PyObject *released = PyObject_CallNoArgs(self->release);
        if (released == NULL)
            return NULL;
        Py_DECREF(released);
        Py_RETURN_NONE;
    }
    if (self->owned) {
        PyObject *held = held_list(self->owner);
        if (held == NULL)
            return NULL;
        Py_ssize_t n = PyList_GET_SIZE(held);
        if (n > 0 && PyList_GET_ITEM(held, n - 1) == (PyObject *)self) {
            /* list.pop() without its call: the size shrinks and the reference goes; the
             * allocation stays (pop gives some back below half, which a list of a few held
             * locks does not need) */
            Py_SET_SIZE(held, n - 1);
            Py_DECREF(self);
        }
        else {
            for (Py_ssize_t i = 0; i < n; i++) {
                if (PyList_GET_ITEM(held, i) == (PyObject *)self) {
                    if (PyList_SetSlice(held, i, i + 1, NULL) < 0) {
                        Py_DECREF(held);
                        return NULL;
                    }
                    break;
                }
            }
        }
        Py_DECREF(held);
        if (self->since <= clock_horizon) {
            PyObject *noted = PyObject_CallMethodNoArgs((PyObject *)self, str_long_hold);
            if (noted == NULL)
                return NULL;
            Py_DECREF(noted);
        }
        self->owned = 0;
    }
    PyObject *released = PyObject_CallNoArgs(self->release);
    if (released == NULL)
        return NULL;
    Py_DECREF(released);
    Py_RETURN_NONE;
}

static PyObject *
Books_get_owner(Books *self, void *Py_UNUSED(closure))
{
    if (!self->owned)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(self->owner);
}

static int
Books_set_owner(Books *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL || value == Py_None) {
        self->owned = 0;
        return 0;
    }
    unsigned long ident = PyLong_AsUnsignedLong(value);
    if (ident == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    self->owner = ident;
    self->owned = 1;
    return 0;
}

static PyMethodDef Books_methods[] = {
    {"__enter__", (PyCFunction)Books_enter, METH_NOARGS, "Take the lock, keeping the books."},
    {"__exit__", (PyCFunction)(void (*)(void))Books_exit, METH_FASTCALL,
     "Give the lock back, keeping the books."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Books_members[] = {
    {"_try", T_OBJECT, offsetof(Books, try_), 0, "the lock's acquire"},
    {"_release", T_OBJECT, offsetof(Books, release), 0, "the lock's release"},
    {"_code", T_OBJECT, offsetof(Books, code), 0, "the taking site's code object"},
    {"_lasti", T_INT, offsetof(Books, lasti), 0, "the taking site's byte offset"},
    {"_preds", T_OBJECT, offsetof(Books, preds), 0, "serials of locks seen held before"},
    {"serial", T_OBJECT, offsetof(Books, serial), 0, "this lock's number"},
    {"_depth", T_INT, offsetof(Books, depth), 0, "how far up the taking site is"},
    {"_count", T_PYSSIZET, offsetof(Books, count), 0, "holds by the owner"},
    {"_since", T_DOUBLE, offsetof(Books, since), 0, "the hold clock when taken"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef Books_getset[] = {
    {"_owner", (getter)Books_get_owner, (setter)Books_set_owner, "the owner's ident, or None",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Books_slots[] = {
    {Py_tp_doc, "A watched lock's books, kept in C (see _lockwatch.py)."},
    {Py_tp_dealloc, Books_dealloc},
    {Py_tp_traverse, Books_traverse},
    {Py_tp_clear, Books_clear},
    {Py_tp_methods, Books_methods},
    {Py_tp_members, Books_members},
    {Py_tp_getset, Books_getset},
    {Py_tp_new, PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec Books_spec = {
    .name = "perflab.debug._lockwatch_books.Books",
    .basicsize = sizeof(Books),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Books_slots,
};

static PyObject *
setup(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *held, *cond_enter;
    if (!PyArg_ParseTuple(args, "OO", &held, &cond_enter))
        return NULL;
    Py_XSETREF(held_by_thread, Py_NewRef(held));
    Py_XSETREF(condition_enter, Py_NewRef(cond_enter));
    Py_RETURN_NONE;
}

static PyObject *
set_clock(PyObject *Py_UNUSED(module), PyObject *args)
{
    double now, horizon;
    if (!PyArg_ParseTuple(args, "dd", &now, &horizon))
        return NULL;
    clock_now = now;
    clock_horizon = horizon;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"setup", setup, METH_VARARGS, "setup(held_by_thread, condition_enter_code)"},
    {"set_clock", set_clock, METH_VARARGS, "set_clock(now, horizon): the hold clock"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_lockwatch_books", "lockwatch's hot path in C.", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__lockwatch_books(void)
{
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    str_wait = PyUnicode_InternFromString("_wait");
    str_learn_all = PyUnicode_InternFromString("_learn_all");
    str_long_hold = PyUnicode_InternFromString("_long_hold");
    PyObject *books = PyType_FromSpec(&Books_spec);
    if (str_wait == NULL || str_learn_all == NULL || str_long_hold == NULL || books == NULL
            || PyModule_AddObject(module, "Books", Py_NewRef(books)) < 0) {
        Py_XDECREF(books);
        Py_DECREF(module);
        return NULL;
    }
    books_type = (PyTypeObject *)books;  /* keeps the reference: the module lives as long */
    return module;
}
