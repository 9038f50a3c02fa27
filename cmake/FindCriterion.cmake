# Finds Criterion (unit tests) through pkg-config, with find_path/find_library as the fallback for
# a prefix unpacked from Debian packages on an offline machine (CMAKE_PREFIX_PATH=<prefix>/usr).
# Defines Criterion::Criterion (with an RPATH to an offline prefix: MxImported.cmake).
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_CRITERION QUIET criterion)
endif()

find_path(CRITERION_INCLUDE_DIR criterion/criterion.h HINTS ${PC_CRITERION_INCLUDE_DIRS})
find_library(CRITERION_LIBRARY NAMES criterion HINTS ${PC_CRITERION_LIBRARY_DIRS})

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Criterion
  REQUIRED_VARS CRITERION_LIBRARY CRITERION_INCLUDE_DIR
  VERSION_VAR PC_CRITERION_VERSION)

if(Criterion_FOUND AND NOT TARGET Criterion::Criterion)
  include(MxImported)
  mx_imported_library(Criterion::Criterion "${CRITERION_LIBRARY}" "${CRITERION_INCLUDE_DIR}")
endif()
mark_as_advanced(CRITERION_INCLUDE_DIR CRITERION_LIBRARY)
