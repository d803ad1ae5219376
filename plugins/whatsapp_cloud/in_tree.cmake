# The whatsapp_cloud plugin built inside blastd's tree (build/plugins/blast_whatsapp_cloud.so)
# with the same sources as its own out-of-tree project (CMakeLists.txt in this folder).
blast_plugin(whatsapp_cloud
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/whatsapp_cloud.cpp ${PROJECT_SOURCE_DIR}/plugins/sdk/blast_http.cpp
  LIBS Boost::json Boost::url OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
