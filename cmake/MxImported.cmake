# mx_imported_library(TARGET LIBRARY INCLUDE_DIR): an imported target for a library found with
# find_library/find_path. When the library sits outside the system directories (the offline
# prefix .deps/root/usr that .ci/deps.sh unpacks), everything linking it gets an RPATH to its
# folder, DT_RPATH (not RUNPATH) so that it also covers the library's own dependencies there; as
# a link option it survives `cmake --install`.
function(mx_imported_library target library include_dir)
  add_library(${target} UNKNOWN IMPORTED)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${library}"
    INTERFACE_INCLUDE_DIRECTORIES "${include_dir}")
  get_filename_component(libdir "${library}" DIRECTORY)
  if(NOT libdir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
    set_property(TARGET ${target} PROPERTY INTERFACE_LINK_OPTIONS
      "LINKER:--disable-new-dtags" "LINKER:-rpath,${libdir}" "LINKER:-rpath-link,${libdir}")
  endif()
endfunction()
