# Finding a dependency of the strata library so that the installed package
# can find it again: a consumer of strata's static libraries links their
# dependencies too, so strataConfig.cmake repeats each find and strata.pc
# requires each pkg-config module. Layers find their dependencies with these
# two instead of find_package/pkg_check_modules; packaging/install.cmake
# refuses (at configure time) an installed library that links an imported
# target found any other way.

# strata_find_package(PC <pkg-config module, or ""> <find_package arguments...>)
macro(strata_find_package pc_keyword pc_module)
  get_directory_property(_strata_before IMPORTED_TARGETS)
  find_package(${ARGN})
  get_directory_property(_strata_after IMPORTED_TARGETS)
  list(REMOVE_ITEM _strata_after ${_strata_before} "")
  set(_strata_args ${ARGN})
  list(REMOVE_ITEM _strata_args REQUIRED)
  list(JOIN _strata_args " " _strata_args)
  set_property(GLOBAL APPEND PROPERTY STRATA_CONFIG_DEPENDENCIES
               "find_dependency(${_strata_args})")
  set_property(GLOBAL APPEND PROPERTY STRATA_FOUND_TARGETS ${_strata_after})
  if(NOT "${pc_module}" STREQUAL "")
    set_property(GLOBAL APPEND PROPERTY STRATA_PC_REQUIRES ${pc_module})
  endif()
endmacro()

# strata_pkg_check_modules(<prefix> <module> [GLOBAL]): PkgConfig::<prefix>
macro(strata_pkg_check_modules prefix module)
  pkg_check_modules(${prefix} REQUIRED IMPORTED_TARGET ${ARGN} ${module})
  set_property(GLOBAL APPEND PROPERTY STRATA_CONFIG_DEPENDENCIES
               "if(NOT TARGET PkgConfig::${prefix})\n  pkg_check_modules(${prefix} REQUIRED QUIET IMPORTED_TARGET ${module})\nendif()")
  set_property(GLOBAL APPEND PROPERTY STRATA_FOUND_TARGETS PkgConfig::${prefix})
  set_property(GLOBAL APPEND PROPERTY STRATA_PC_REQUIRES ${module})
endmacro()
