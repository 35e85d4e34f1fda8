#include "lib/fs/volume.h"

namespace capos::fs {

const char* to_string(FsError error) {
    switch (error) {
    case FsError::NotFound:
        return "no such file or directory";
    case FsError::Exists:
        return "the name is taken";
    case FsError::NotDirectory:
        return "not a directory";
    case FsError::IsDirectory:
        return "is a directory";
    case FsError::NotEmpty:
        return "the directory is not empty";
    case FsError::BadName:
        return "not a name this volume can store";
    case FsError::NameTooLong:
        return "the name is too long";
    case FsError::NoSpace:
        return "no space left on the volume";
    case FsError::TooLarge:
        return "past the largest size the volume holds";
    case FsError::ReadOnly:
        return "the volume is read-only";
    case FsError::Corrupt:
        return "the volume's structures are broken";
    case FsError::Io:
        return "the disk failed";
    case FsError::NoMemory:
        return "out of memory";
    case FsError::Invalid:
        return "invalid request";
    case FsError::NotSupported:
        return "not supported by this volume";
    }
    return "unknown error";
}

Result<void, FsError> check_name(std::string_view name) {
    if (name.empty() || name == "." || name == "..")
        return Err{FsError::BadName};
    if (name.size() > max_name)
        return Err{FsError::NameTooLong};
    for (char c : name)
        if (c == '/' || c == '\0')
            return Err{FsError::BadName};
    return {};
}

} // namespace capos::fs
