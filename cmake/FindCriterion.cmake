# Finds Criterion (unit tests) through pkg-config, with find_path/find_library as the fallback for
# a prefix unpacked from Debian packages on an offline machine (CMAKE_PREFIX_PATH=<prefix>/usr).
# Defines Criterion::Criterion. When the library sits outside the system directories (the offline
# prefix), test executables get an RPATH to it, so that they also find its own dependencies.
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
  add_library(Criterion::Criterion UNKNOWN IMPORTED)
  set_target_properties(Criterion::Criterion PROPERTIES
    IMPORTED_LOCATION "${CRITERION_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CRITERION_INCLUDE_DIR}")
  get_filename_component(_criterion_libdir "${CRITERION_LIBRARY}" DIRECTORY)
  if(NOT _criterion_libdir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
    # DT_RPATH (not RUNPATH) also covers libcriterion's own dependencies in the same prefix.
    set_property(TARGET Criterion::Criterion PROPERTY INTERFACE_LINK_OPTIONS
      "LINKER:--disable-new-dtags" "LINKER:-rpath,${_criterion_libdir}"
      "LINKER:-rpath-link,${_criterion_libdir}")
  endif()
endif()
mark_as_advanced(CRITERION_INCLUDE_DIR CRITERION_LIBRARY)
