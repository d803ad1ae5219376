# Builds one plugin folder OUT OF TREE the way a plugin author would, as a CTest step:
# plugins/<PLUGIN> and plugins/sdk are copied alone into WORK_DIR (so no other blastd folder
# is reachable, not even by a relative include), configured as their own CMake project and
# built. Fails if configuring or building fails, or no blast_*.so comes out.
#   cmake -DSOURCE_DIR=<repo> -DPLUGIN=whatsapp_cloud -DWORK_DIR=<dir> -P out_of_tree.cmake
foreach(var SOURCE_DIR PLUGIN WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "out_of_tree.cmake needs -D${var}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/src")
file(COPY "${SOURCE_DIR}/plugins/${PLUGIN}" "${SOURCE_DIR}/plugins/sdk" DESTINATION "${WORK_DIR}/src")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${WORK_DIR}/src/${PLUGIN}" -B "${WORK_DIR}/build"
          "-DBLASTD_SDK_DIR=${WORK_DIR}/src/sdk"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring ${PLUGIN} out of tree failed (${rc})")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" -j 2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building ${PLUGIN} out of tree failed (${rc})")
endif()
file(GLOB built "${WORK_DIR}/build/blast_*.so")
if(NOT built)
  message(FATAL_ERROR "building ${PLUGIN} out of tree produced no blast_*.so")
endif()
message(STATUS "built out of tree: ${built}")
