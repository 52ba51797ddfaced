// Fuzz builds compile library sources straight into the target: no shared-library exports.
#pragma once
#define OFFLOAD_SEM_EXPORT
