# The template plugin built inside blastd's own tree (as blast_template.so), so
# the conformance test keeps it honest; plugins/CMakeLists.txt includes this file.
blast_plugin(template SOURCES ${CMAKE_CURRENT_LIST_DIR}/echo_plugin.cpp)
