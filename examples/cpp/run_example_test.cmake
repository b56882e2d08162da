# ctest driver (tests/CMakeLists.txt): install the build tree into a scratch
# prefix, build examples/cpp against it with find_package(fasctrack), as a
# user would, run it on the bundled recording and check what it prints.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/cpp -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/detect_example ${SOURCE_DIR}/data/sub-01_ses-01_task-rest_emg.edf)
message("${out}")
if(NOT out MATCHES "8 channels, 60.0 s at 2048 Hz" OR NOT out MATCHES "[1-9][0-9]* events in [1-9][0-9]* units"
   OR NOT out MATCHES "unit 0: [1-9][0-9]* discharges")
  message(FATAL_ERROR "unexpected output from detect_example:\n${out}")
endif()
