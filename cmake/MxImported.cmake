# mx_find_library(PACKAGE PKG_MODULE HEADER LIBRARY TARGET): the find-module body shared by
# FindCriterion and FindcJSON. Looks through pkg-config (PKG_MODULE), with find_path/find_library
# as the fallback for a prefix unpacked from Debian packages on an offline machine
# (CMAKE_PREFIX_PATH=<prefix>/usr), sets PACKAGE_FOUND and defines the imported TARGET.
# When the library sits outside the system directories (the offline prefix .deps/root/usr that
# .ci/deps.sh unpacks), everything linking it gets an RPATH to its folder: DT_RPATH (not RUNPATH)
# so that it also covers the library's own dependencies there, and as a link option it survives
# `cmake --install`.
macro(mx_find_library package pkg_module header library target)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_${package} QUIET ${pkg_module})
  endif()
  find_path(${package}_INCLUDE_DIR ${header} HINTS ${PC_${package}_INCLUDE_DIRS})
  find_library(${package}_LIBRARY NAMES ${library} HINTS ${PC_${package}_LIBRARY_DIRS})
  include(FindPackageHandleStandardArgs)
  find_package_handle_standard_args(${package}
    REQUIRED_VARS ${package}_LIBRARY ${package}_INCLUDE_DIR
    VERSION_VAR PC_${package}_VERSION)
  if(${package}_FOUND AND NOT TARGET ${target})
    add_library(${target} UNKNOWN IMPORTED)
    set_target_properties(${target} PROPERTIES
      IMPORTED_LOCATION "${${package}_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${${package}_INCLUDE_DIR}")
    get_filename_component(_mx_libdir "${${package}_LIBRARY}" DIRECTORY)
    if(NOT _mx_libdir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      set_property(TARGET ${target} PROPERTY INTERFACE_LINK_OPTIONS
        "LINKER:--disable-new-dtags" "LINKER:-rpath,${_mx_libdir}" "LINKER:-rpath-link,${_mx_libdir}")
    endif()
  endif()
  mark_as_advanced(${package}_INCLUDE_DIR ${package}_LIBRARY)
endmacro()
