# What `cmake --install` puts under the prefix:
#   bin/strata
#   lib/libstrata_<layer>.a               one per layer of the library
#   include/strata/                       the public headers (and version.h)
#   lib/cmake/strata/                     find_package(strata CONFIG) -> strata::strata
#   lib/pkgconfig/strata.pc               pkg-config --cflags --libs strata
include(CMakePackageConfigHelpers)

# Every imported target an installed library links must be found again by
# strataConfig.cmake, so it must have been found with strata_find_package or
# strata_pkg_check_modules (packaging/dependencies.cmake).
get_property(found_targets GLOBAL PROPERTY STRATA_FOUND_TARGETS)
foreach(lib IN LISTS STRATA_LIBRARY_LAYERS)
  get_target_property(links ${lib} LINK_LIBRARIES)
  foreach(dep IN LISTS links)
    if(dep MATCHES "::" AND NOT dep IN_LIST found_targets)
      message(FATAL_ERROR "${lib} links ${dep}, which the installed package could not find "
                          "again: find it with strata_find_package or strata_pkg_check_modules "
                          "(packaging/dependencies.cmake) instead of find_package/pkg_check_modules")
    endif()
  endforeach()
endforeach()

install(TARGETS strata_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ${STRATA_LIBRARY_LAYERS} strata EXPORT strataTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/strata ${PROJECT_BINARY_DIR}/include/strata
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/strata)
install(EXPORT strataTargets NAMESPACE strata:: DESTINATION ${config_dir})
get_property(deps GLOBAL PROPERTY STRATA_CONFIG_DEPENDENCIES)
list(REMOVE_DUPLICATES deps)
list(JOIN deps "\n" STRATA_CONFIG_DEPENDENCIES)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/strataConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/packaging/strataConfig.cmake
                              INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/packaging/strataConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/packaging/strataConfig.cmake
              ${PROJECT_BINARY_DIR}/packaging/strataConfigVersion.cmake
        DESTINATION ${config_dir})

# strata.pc: the static libraries, highest layer first so each one's
# references are resolved by those after it, and every dependency's module
# under Requires (not Requires.private: static libraries need their
# dependencies' libraries at every link, not only with --static).
set(STRATA_PC_LIBS "")
set(reversed ${STRATA_LIBRARY_LAYERS})
list(REVERSE reversed)
foreach(lib IN LISTS reversed)
  string(APPEND STRATA_PC_LIBS " -l${lib}")
endforeach()
get_property(pc_requires GLOBAL PROPERTY STRATA_PC_REQUIRES)
list(REMOVE_DUPLICATES pc_requires)
list(JOIN pc_requires ", " STRATA_PC_REQUIRES)
file(RELATIVE_PATH STRATA_PC_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${CMAKE_CURRENT_LIST_DIR}/strata.pc.in ${PROJECT_BINARY_DIR}/packaging/strata.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/packaging/strata.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
