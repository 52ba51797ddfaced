# The README's tour quotes examples/quickstart/main.cpp; fail if the two drift apart.
file(READ "${README}" readme)
file(READ "${EXAMPLE}" example)
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
    message(FATAL_ERROR "README.md no longer quotes ${EXAMPLE} verbatim; update the tour.")
endif()
message(STATUS "README quotes the quickstart example verbatim")
