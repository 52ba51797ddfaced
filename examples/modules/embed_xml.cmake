# Writes the module's XML description into a C++ header as a raw string literal.
file(READ "${XML}" content)
file(WRITE "${HEADER}" "// Generated from blur.xml by embed_xml.cmake; do not edit.\n#pragma once\nstatic const char kDescription[] = R\"offloadxml(${content})offloadxml\";\n")
