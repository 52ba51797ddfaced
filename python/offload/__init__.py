"""Offload for Python: keep a PyQt6 window responsive while long work runs elsewhere.

Worker pools (Python workers written with ``offload_worker``), program and module runs, and
callables on Offload's threads are all tasks: a state, progress, output, cancel, and a result
or an error, delivered on the thread of the QObject given as their context (the GUI thread,
for a window). When that object is destroyed, nothing more is called and the work is
cancelled. A task can be awaited in a generator slot (``@offload.slot``) or, in trio's guest
mode on Qt's event loop, with ``await``.

Example::

    import offload
    pool = offload.WorkerPool(sys.executable, ["worker.py"], max_workers=2)
    task = pool.submit(window, "add", {"a": 1, "b": 2})
    task.on_progress(lambda p: bar.setValue(int(max(p.fraction, 0) * 100)))  # -1: unknown
    task.on_result(lambda r: label.setText(str(r.value)))
    cancel_button.clicked.connect(task.cancel)
"""

import atexit
import collections
import functools
import inspect

from ._offload import (  # noqa: F401  (re-exported)
    Control,
    LatencyProbe,
    ModuleRunner,
    SharedBuffer,
    ProgramRunner,
    Task,
    TaskModel,
    TaskMonitorWidget,
    WorkerPool,
    run,
    _shutdown,
)

atexit.register(_shutdown)

__all__ = [
    "Task", "WorkerPool", "ProgramRunner", "ModuleRunner", "run", "Control", "slot",
    "TaskModel", "TaskMonitorWidget", "LatencyProbe", "SharedBuffer",
    "Progress", "ProcessInfo", "WorkerResult", "WorkerFrame", "ProgramResult", "Module",
    "Error", "ExceptionError", "WorkerError", "CrashError", "ExitCodeError",
    "ProtocolError", "LaunchError", "InvalidInputError", "RemoteError", "CancelledError",
]  # offload.TimeoutError is left out: a star import would hide the built-in one

Progress = collections.namedtuple(
    "Progress", "value minimum maximum fraction text stage",
    defaults=(0, 0, 0, -1.0, "", None))
Progress.__doc__ = ("How far a task has come: value within [minimum, maximum] (unknown while "
                    "maximum <= minimum: fraction is then -1), free text, and a stage "
                    "(name, index, count) or None.")

ProcessInfo = collections.namedtuple("ProcessInfo", "pid rss_bytes cpu_seconds location")
ProcessInfo.__doc__ = ("The process running a task: -1 where unknown; location is '' for this "
                       "machine, else where it runs ('ssh://host', 'slurm job 12 on n1').")

WorkerResult = collections.namedtuple("WorkerResult", "value payload buffers", defaults=((),))
WorkerResult.__doc__ = ("A worker's answer: its JSON value, a binary payload (bytes) and the "
                        "shared buffers it handed back (a tuple of offload.SharedBuffer).")

WorkerFrame = collections.namedtuple("WorkerFrame", "sequence skipped value payload buffers")
WorkerFrame.__doc__ = ("A frame a worker published while its call ran: its number (from 1), "
                       "how many frames were dropped since the last one delivered (this thread "
                       "fell behind), its JSON value, payload (bytes) and shared buffers (a "
                       "tuple of offload.SharedBuffer, lent by the worker until dropped).")

ProgramResult = collections.namedtuple(
    "ProgramResult",
    "exit_code signal elapsed json raw sem_results stdout stderr return_parameters")
ProgramResult.__doc__ = ("A program run: exit code, signal (0 if none), seconds, the JSON "
                         "result of a PROGRESS-lines program, raw stdout (progress='raw'), SEM "
                         "results, stdout and stderr (bounded), and the return-parameter "
                         "file's bytes or None.")


class Module:
    """A described command-line module: path, title, description, parameters (dicts)."""

    __slots__ = ("path", "title", "description", "parameters", "_native")

    def __init__(self, path, title, description, parameters, native):
        self.path = path
        self.title = title
        self.description = description
        self.parameters = parameters
        self._native = native

    def __repr__(self):
        return f"<offload.Module {self.title!r} {self.path!r}>"


class Error(Exception):
    """Why a task failed. Attributes: kind ('worker_error', 'crash', ...), message, origin
    (the exception's type, or the worker's), traceback (a worker's or a callable's), exit_code,
    signal, stderr_tail (bytes), remote_failure (ssh or Slurm, else None), partial (what a
    failed program run produced: its ProgramResult, else None)."""

    def __init__(self, fields):
        super().__init__(fields.get("summary") or fields.get("message", ""))
        self.kind = fields.get("kind", "exception")
        self.message = fields.get("message", "")
        self.origin = fields.get("origin", "")
        self.traceback = fields.get("traceback", "")
        self.exit_code = fields.get("exit_code")
        self.signal = fields.get("signal")
        self.stderr_tail = fields.get("stderr_tail", b"")
        self.remote_failure = fields.get("remote_failure")
        self.partial = fields.get("partial")

    def __reduce__(self):
        # Picklable (to another process, a log queue): rebuilt from its fields, not from
        # Exception's args, which hold only the summary.
        names = ("kind", "message", "origin", "traceback", "exit_code", "signal",
                 "stderr_tail", "remote_failure", "partial")
        fields = {name: getattr(self, name) for name in names}
        fields["summary"] = str(self)
        return (type(self), (fields,), self.__dict__)


class ExceptionError(Error):
    """The callable raised (origin: its type; traceback: where)."""


class WorkerError(Error):
    """A worker's method raised or reported an error (origin and traceback: the worker's)."""


class CrashError(Error):
    """The process died from a signal or vanished mid-call."""


class ExitCodeError(Error):
    """The program exited with a non-zero status (exit_code; partial: its ProgramResult)."""


class TimeoutError(Error):  # noqa: A001  (offload.TimeoutError; builtins' is left alone)
    """The task ran out of time and was stopped."""


class ProtocolError(Error):
    """A peer sent bytes that break the protocol (or a return file that is not a file)."""


class LaunchError(Error):
    """The program could not be started (missing, not executable, no hello)."""


class InvalidInputError(Error):
    """The task's inputs were rejected before any work started."""


class RemoteError(Error):
    """ssh or Slurm could not reach the other side or lost it (remote_failure says how)."""


class CancelledError(Exception):
    """Raised by result() (and await) of a cancelled task; raise it (or call
    control.raise_if_cancelled()) in a callable run by offload.run to end it Cancelled."""


_ERROR_CLASSES = {
    "exception": ExceptionError,
    "worker_error": WorkerError,
    "crash": CrashError,
    "exit_code": ExitCodeError,
    "timeout": TimeoutError,
    "protocol": ProtocolError,
    "launch": LaunchError,
    "invalid_input": InvalidInputError,
    "remote": RemoteError,
}


def _make_error(fields):
    return _ERROR_CLASSES.get(fields.get("kind"), Error)(fields)


# --- awaiting ---------------------------------------------------------------------------------

def slot(fn):
    """Makes a generator function a slot that awaits tasks without an event-loop library:
    ``result = yield task`` suspends until the task has ended and resumes with its result (or
    raises its error, or offload.CancelledError, at the yield). Calling the slot returns a
    SlotRun whose cancel() cancels the task being awaited: the generator sees
    offload.CancelledError at its yield (and may catch it and go on). The tasks' context decides where it resumes; if that object is destroyed, the generator is never
    resumed. Connect it to a signal as any slot: extra signal arguments are dropped."""

    # Qt passes a signal's arguments (clicked's `checked`) to a slot that takes them; one that
    # takes fewer gets fewer, as PyQt does for a plain function.
    params = inspect.signature(fn).parameters.values()
    takes_any = any(p.kind is p.VAR_POSITIONAL for p in params)
    most = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not takes_any:
            args = args[:most]
        gen = fn(*args, **kwargs)
        if not inspect.isgenerator(gen):
            return gen
        run = SlotRun(gen)
        run._step(None, None)
        return run

    return wrapper


class SlotRun:
    """One call of an @offload.slot generator: running until it returns; cancel() stops it."""

    __slots__ = ("_gen", "_task", "done", "value", "__weakref__")

    def __init__(self, gen):
        self._gen = gen
        self._task = None
        self.done = False
        self.value = None

    def cancel(self):
        """Cancels the task being awaited; the generator sees CancelledError at its yield."""
        if self._task is not None:
            self._task.cancel()

    def _step(self, value, error):
        try:
            task = self._gen.throw(error) if error is not None else self._gen.send(value)
        except StopIteration as stop:
            self.done, self.value, self._task = True, stop.value, None
            return
        if not isinstance(task, Task):
            self._gen.close()
            self.done = True
            raise TypeError(f"an @offload.slot generator yields offload.Task objects, not {task!r}")
        self._task = task
        task.on_finished(self._resume)

    def _resume(self, task):
        try:
            value = task.result()
        except (Error, CancelledError) as e:
            self._step(None, e)
        else:
            self._step(value, None)


async def _await_in_trio(task):
    import outcome
    import trio

    if task.is_final:
        await trio.lowlevel.checkpoint()
        return task.result()
    me = trio.lowlevel.current_task()
    token = trio.lowlevel.current_trio_token()
    aborted = []

    def finished():
        # On the application's thread once the task has ended, even if its context is gone:
        # handed to trio by its token, which is safe from any thread.
        if aborted:
            token.run_sync_soon(trio.lowlevel.reschedule, me, outcome.capture(aborted[0]))
        else:
            token.run_sync_soon(trio.lowlevel.reschedule, me, outcome.Value(None))

    def abort(raise_cancel):
        # trio cancels the await: the task is asked to stop, and trio's Cancelled is raised
        # once it has ended (nothing of it runs on after the await is gone).
        aborted.append(raise_cancel)
        task.cancel()
        return trio.lowlevel.Abort.FAILED

    task._on_end(finished)
    await trio.lowlevel.wait_task_rescheduled(abort)
    return task.result()


def _task_await(self):
    """await task (in trio, including its guest mode on Qt's event loop): its result, or its
    error raised; cancelling the awaiting trio task cancels the Offload task."""
    return _await_in_trio(self).__await__()


Task.__await__ = _task_await
