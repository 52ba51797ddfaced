# Type stubs of the offload package (the extension's classes and the Python part).
from typing import Any, Callable, Generator, Iterable, Mapping, NamedTuple, Optional, TypeVar

from PyQt6.QtCore import QAbstractItemModel, QObject
from PyQt6.QtWidgets import QWidget

_T = TypeVar("_T")
_Args = Optional[Iterable[str | bytes]]
_Env = Optional[Mapping[str | bytes, str | bytes | None]]

class Progress(NamedTuple):
    value: int = 0
    minimum: int = 0
    maximum: int = 0
    fraction: float = -1.0
    text: str = ""
    stage: Optional[tuple[str, int, int]] = None

class ProcessInfo(NamedTuple):
    pid: int
    rss_bytes: int
    cpu_seconds: float
    location: str

class WorkerResult(NamedTuple):
    value: Any
    payload: bytes

class ProgramResult(NamedTuple):
    exit_code: int
    signal: int
    elapsed: float
    json: Any
    raw: bytes
    sem_results: dict[str, str]
    stdout: bytes
    stderr: bytes
    return_parameters: Optional[bytes]

class Module:
    path: str
    title: str
    description: str
    parameters: list[dict[str, Any]]

class Error(Exception):
    kind: str
    message: str
    origin: str
    traceback: str
    exit_code: Optional[int]
    signal: Optional[int]
    stderr_tail: bytes
    remote_failure: Optional[str]
    partial: Optional[ProgramResult]

class ExceptionError(Error): ...
class WorkerError(Error): ...
class CrashError(Error): ...
class ExitCodeError(Error): ...
class TimeoutError(Error): ...
class ProtocolError(Error): ...
class LaunchError(Error): ...
class InvalidInputError(Error): ...
class RemoteError(Error): ...
class CancelledError(Exception): ...

class Task:
    id: int
    name: str
    kind: str
    state: str  # queued, starting, running, finished, failed, cancelled
    is_final: bool
    progress: Progress
    error: Optional[Error]
    process_info: ProcessInfo
    elapsed: float
    def cancel(self) -> None: ...
    def result(self) -> Any: ...
    def wait(self, timeout: Optional[float] = None) -> bool: ...
    def on_progress(self, callback: Callable[[Progress], Any]) -> Task: ...
    def on_output(self, callback: Callable[[str, bytes], Any]) -> Task: ...
    def on_state_changed(self, callback: Callable[[str], Any]) -> Task: ...
    def on_finished(self, callback: Callable[[Task], Any]) -> Task: ...
    def on_result(self, callback: Callable[[Any], Any]) -> Task: ...
    def on_error(self, callback: Callable[[Error], Any]) -> Task: ...
    def on_cancelled(self, callback: Callable[[], Any]) -> Task: ...
    def __await__(self) -> Generator[Any, None, Any]: ...

class Control:
    is_cancelled: bool
    def set_fraction(self, fraction: float) -> None: ...
    def set_progress(self, value: int, maximum: int, text: Optional[str] = None) -> None: ...
    def set_text(self, text: str) -> None: ...
    def raise_if_cancelled(self) -> None: ...

def run(context: QObject, fn: Callable[..., Any], *, name: Optional[str] = None,
        priority: int = 0, control: bool = False) -> Task: ...

class WorkerPool:
    def __init__(self, program: str, arguments: _Args = None, *, environment: _Env = None,
                 working_directory: Optional[str] = None, name: Optional[str] = None,
                 min_workers: int = 0, max_workers: int = 0, prestart: int = 0,
                 idle_timeout: float = 30.0, start_timeout: float = 10.0,
                 call_timeout: float = 0.0, cancel_grace: float = 2.0,
                 heartbeat_timeout: float = 0.0, max_attempts: int = 1, niceness: int = 10,
                 stdio_channel: bool = False, launcher: Optional[str] = None) -> None: ...
    def submit(self, context: QObject, method: str, args: Any = None,
               payload: Optional[bytes] = None, *, name: Optional[str] = None,
               priority: int = 0, timeout: Optional[float] = None) -> Task: ...
    def status(self) -> dict[str, Any]: ...
    def shutdown(self) -> None: ...

class ProgramRunner:
    def __init__(self, max_parallel: int = 0) -> None: ...
    def run(self, context: QObject, program: str, arguments: _Args = None, *,
            environment: _Env = None, working_directory: Optional[str] = None,
            stdin: Optional[bytes] = None, progress: str = "auto", timeout: float = 0.0,
            cancel_grace: float = 2.0, niceness: int = 10, name: Optional[str] = None,
            return_parameter_file: bool = False, launcher: Optional[str] = None) -> Task: ...

class ModuleRunner:
    def __init__(self, max_parallel: int = 0) -> None: ...
    def describe(self, context: QObject, path: str) -> Task: ...
    def run(self, context: QObject, module: Module, values: Optional[Mapping[str, Any]] = None,
            *, timeout: float = 0.0, launcher: Optional[str] = None) -> Task: ...
    @staticmethod
    def return_values(module: Module, result: ProgramResult) -> dict[str, Any]: ...

class SlotRun:
    done: bool
    value: Any
    def cancel(self) -> None: ...

def slot(fn: Callable[..., Generator[Task, Any, _T]]) -> Callable[..., SlotRun]: ...

def TaskModel(parent: Optional[QObject] = None) -> QAbstractItemModel: ...
def TaskMonitorWidget(parent: Optional[QWidget] = None) -> QWidget: ...
