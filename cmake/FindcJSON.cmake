# Finds cJSON (run.json); defines cJSON::cJSON (cmake/MxImported.cmake). Debian's own
# cJSONConfig.cmake names absolute /usr paths, which an unpacked offline prefix does not have.
include(MxImported)
mx_find_library(cJSON libcjson cjson/cJSON.h cjson cJSON::cJSON)
