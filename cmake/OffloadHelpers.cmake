# offload_add_library(<Component> <target> SOURCES ... PUBLIC_HEADERS ... DEPENDS ...)
# Builds one layer as Offload::<Component>, installs its public headers under
# include/offload/<dir>/ and exports it in the OffloadTargets-<Component> set.
function(offload_add_library component target)
    cmake_parse_arguments(ARG "" "DIR" "SOURCES;PUBLIC_HEADERS;PUBLIC_DEPENDS;PRIVATE_DEPENDS" ${ARGN})
    add_library(${target} ${ARG_SOURCES} ${ARG_PUBLIC_HEADERS})
    add_library(Offload::${component} ALIAS ${target})
    set_target_properties(${target} PROPERTIES
        EXPORT_NAME ${component}
        OUTPUT_NAME offload-${ARG_DIR}
        VERSION ${PROJECT_VERSION}
        SOVERSION ${PROJECT_VERSION_MAJOR}
        CXX_VISIBILITY_PRESET hidden
        VISIBILITY_INLINES_HIDDEN ON)
    string(TOUPPER ${ARG_DIR} upper)
    include(GenerateExportHeader)
    generate_export_header(${target}
        BASE_NAME OFFLOAD_${upper}
        EXPORT_FILE_NAME ${PROJECT_BINARY_DIR}/include/offload/${ARG_DIR}/export.h)
    target_include_directories(${target} PUBLIC
        $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
        $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
        $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_compile_features(${target} PUBLIC cxx_std_20)
    target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPENDS} PRIVATE ${ARG_PRIVATE_DEPENDS})
    install(TARGETS ${target} EXPORT OffloadTargets-${component}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    # For tests/headers: each public header must compile on its own.
    foreach(header IN LISTS ARG_PUBLIC_HEADERS)
        set_property(GLOBAL APPEND PROPERTY OFFLOAD_PUBLIC_HEADERS "offload/${ARG_DIR}/${header}")
    endforeach()
    set_property(GLOBAL APPEND PROPERTY OFFLOAD_LIBRARIES Offload::${component})
    install(FILES ${ARG_PUBLIC_HEADERS} ${PROJECT_BINARY_DIR}/include/offload/${ARG_DIR}/export.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/offload/${ARG_DIR})
    install(EXPORT OffloadTargets-${component} NAMESPACE Offload::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Offload)
endfunction()

# offload_add_test(<name> SOURCES ... LIBS ...): one QtTest executable, registered with CTest
# with a hard timeout so that no test can hang CI.
function(offload_add_test name)
    cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE Qt6::Test ${ARG_LIBS})
    if(NOT ARG_TIMEOUT)
        set(ARG_TIMEOUT 120)
    endif()
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
        ENVIRONMENT "QT_QPA_PLATFORM=offscreen;QT_FORCE_STDERR_LOGGING=1")
endfunction()
