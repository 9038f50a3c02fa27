# The `install` test (CTest runs it with cmake -P): installs this build into a fresh prefix, builds
# examples/consumer against it twice, with find_package(mxbench) and with pkg-config, runs both
# (the GPU part skips without a GPU), and checks that the installed CLI finds its data (sweeps,
# plot scripts) relative to itself. Inputs: BUILD_DIR, SOURCE_DIR, WORK_DIR, LIBDIR, C_COMPILER.
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE failed OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(failed)
    message(FATAL_ERROR "install test: ${what} failed (${failed}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
step("cmake --install into ${prefix}" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

step("configure examples/consumer with find_package(mxbench)" ${CMAKE_COMMAND}
  -S ${SOURCE_DIR}/examples/consumer -B ${WORK_DIR}/consumer-cmake
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER})
step("build it" ${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-cmake)
step("run it" ${WORK_DIR}/consumer-cmake/consumer)
message(STATUS "${step_output}")

find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
step("pkg-config --cflags --libs mxbench" ${PKG_CONFIG} --cflags --libs mxbench)
separate_arguments(flags UNIX_COMMAND "${step_output}")
step("compile and link examples/consumer/consumer.c with those flags" ${C_COMPILER} -std=c11
  ${SOURCE_DIR}/examples/consumer/consumer.c ${flags} -o ${WORK_DIR}/consumer-pkgconfig)
step("run it" ${WORK_DIR}/consumer-pkgconfig)

# The installed CLI, started from elsewhere, with no hint where its data is.
unset(ENV{MXBENCH_DATA_DIR})
step("installed mxbench run --suite smoke --list" ${prefix}/bin/mxbench run --suite smoke --list)
step("installed mxbench run --help" ${prefix}/bin/mxbench run --help)
string(FIND "${step_output}" "${prefix}/share/mxbench" at)
if(at EQUAL -1)
  message(FATAL_ERROR "install test: run --help does not name ${prefix}/share/mxbench as the data folder:\n${step_output}")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
