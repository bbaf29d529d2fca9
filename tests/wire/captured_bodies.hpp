// Message bodies captured between py2p 0.7.870 and js2p 0.7.870 (docs: /work/shared/protocol.md
// "Example frames"), i.e. the frames minus their length header and sha256.
#pragma once

#include <string_view>

namespace p2p::test {

inline constexpr std::string_view py2p_id =
    "5KrpxpDnR1m15fq5ef37Q1kPhZZgCJA968jx7AYZR7MwnX33orm6vyxsWe8tYrwxKh";
inline constexpr std::string_view js2p_id =
    "9SfGcPEjt4Hupmxz8buaCVuRsr9w5RzemZ1jnGjZKQCswYCYaWZUcrVKkoVmy4v6k3";
inline constexpr std::string_view mesh_plaintext_id =
    "EpAmyZWv9rZUKmjQgU3FTUD4GrJHvVEXizmghVBc8eGD";

/// py2p handshake: ids as bin8, compression [snappy, zlib, gzip, bz2, lzma].
inline constexpr std::string_view py2p_handshake_body_hex =
    "98"
    "02"
    "c442354b72707870446e52316d31356671356566333751316b50685a5a67434a413936386a783741595a5237"
    "4d776e5833336f726d367679787357653874597277784b68"
    "ce6b0196f0"
    "05"
    "c442354b72707870446e52316d31356671356566333751316b50685a5a67434a413936386a783741595a5237"
    "4d776e5833336f726d367679787357653874597277784b68"
    "d92c4570416d795a577639725a554b6d6a51675533465455443447724a4876564558697a6d67685642633865"
    "474492a93132372e302e302e31cdba18"
    "952013111012";
/// Its sha256 as captured in the frame.
inline constexpr std::string_view py2p_handshake_id_hex =
    "ad87709cb08f5f11f128c112becc774d897f3029133496932257739803304ba2";

/// js2p handshake: ids as str8, compression [zlib, gzip].
inline constexpr std::string_view js2p_handshake_body_hex =
    "98"
    "02"
    "d942395366476350456a74344875706d787a38627561435675527372397735527a656d5a316a6e476a5a4b51"
    "43737759435961575a556372564b6b6f566d793476366b33"
    "ce6b0196f3"
    "05"
    "d942395366476350456a74344875706d787a38627561435675527372397735527a656d5a316a6e476a5a4b51"
    "43737759435961575a556372564b6b6f566d793476366b33"
    "d92c4570416d795a577639725a554b6d6a51675533465455443447724a4876564558697a6d67685642633865"
    "474492a93132372e302e302e31cdba19"
    "921311";
inline constexpr std::string_view js2p_handshake_id_hex =
    "905d1f98e44cf88386aa254c7686f2d410fa3cef6a05d058a848e0ca4d14fc5b";

}  // namespace p2p::test
