# Finds fasctrack's private compiled dependencies and defines the targets the
# library links: fasctrack_deps::fftw3 and fasctrack_deps::edflib. Used by the
# build and by the installed package config, because a static libfasctrack
# still needs them at the consumer's link step.
include_guard(GLOBAL)

find_package(PkgConfig REQUIRED QUIET)
if(NOT TARGET fasctrack_deps::fftw3)
  pkg_check_modules(FASCTRACK_FFTW3 REQUIRED QUIET fftw3)
  find_library(FASCTRACK_FFTW3_LIBRARY NAMES fftw3
               HINTS ${FASCTRACK_FFTW3_LIBRARY_DIRS} REQUIRED)
  add_library(fasctrack_deps::fftw3 UNKNOWN IMPORTED)
  set_target_properties(fasctrack_deps::fftw3 PROPERTIES
    IMPORTED_LOCATION "${FASCTRACK_FFTW3_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${FASCTRACK_FFTW3_INCLUDE_DIRS}")
endif()

if(NOT TARGET fasctrack_deps::edflib)
  # Debian's libedf-dev ships edflib.h and libedf (no CMake or pkg-config files).
  find_path(FASCTRACK_EDFLIB_INCLUDE_DIR edflib.h REQUIRED)
  find_library(FASCTRACK_EDFLIB_LIBRARY NAMES edf REQUIRED)
  add_library(fasctrack_deps::edflib UNKNOWN IMPORTED)
  set_target_properties(fasctrack_deps::edflib PROPERTIES
    IMPORTED_LOCATION "${FASCTRACK_EDFLIB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${FASCTRACK_EDFLIB_INCLUDE_DIR}")
endif()
