# Finds Criterion (unit tests); defines Criterion::Criterion (cmake/MxImported.cmake).
include(MxImported)
mx_find_library(Criterion criterion criterion/criterion.h criterion Criterion::Criterion)
