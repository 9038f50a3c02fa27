# Finds cJSON (run.json) through pkg-config, with find_path/find_library as the fallback for a
# prefix unpacked from Debian packages on an offline machine (CMAKE_PREFIX_PATH=<prefix>/usr).
# Defines cJSON::cJSON. (Debian's own cJSONConfig.cmake names absolute /usr paths, which an
# unpacked prefix does not have.)
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_CJSON QUIET libcjson)
endif()

find_path(CJSON_INCLUDE_DIR cjson/cJSON.h HINTS ${PC_CJSON_INCLUDE_DIRS})
find_library(CJSON_LIBRARY NAMES cjson HINTS ${PC_CJSON_LIBRARY_DIRS})

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(cJSON
  REQUIRED_VARS CJSON_LIBRARY CJSON_INCLUDE_DIR
  VERSION_VAR PC_CJSON_VERSION)

if(cJSON_FOUND AND NOT TARGET cJSON::cJSON)
  include(MxImported)
  mx_imported_library(cJSON::cJSON "${CJSON_LIBRARY}" "${CJSON_INCLUDE_DIR}")
endif()
mark_as_advanced(CJSON_INCLUDE_DIR CJSON_LIBRARY)
