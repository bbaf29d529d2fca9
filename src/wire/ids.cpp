#include "p2p/wire/ids.hpp"

// SHA-256 runs for every frame sent and received. OpenSSL 3's EVP interface allocates and
// frees a provider context on every DigestInit (~100 ns, more than hashing 64 bytes with
// SHA-NI), and its first use loads the default provider, which touches megabytes of
// libcrypto a Plaintext node never needs; the low-level SHA256_*/SHA384_* functions reach
// the same assembly with the state on the stack. They are deprecated in 3.0 but not
// removed, hence the suppression, in this file only.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace p2p::wire {

namespace {

constexpr std::string_view base58_alphabet =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr int not_base58 = -1;

constexpr std::array<int, 256> make_base58_digits() {
  std::array<int, 256> digits{};
  digits.fill(not_base58);
  for (std::size_t i = 0; i < base58_alphabet.size(); ++i) {
    digits[static_cast<unsigned char>(base58_alphabet[i])] = static_cast<int>(i);
  }
  return digits;
}
constexpr std::array<int, 256> base58_digits = make_base58_digits();

[[noreturn]] void digest_failed(const char* name) {
  // Only possible when OpenSSL is broken or out of memory; no caller can recover from that.
  std::fprintf(stderr, "p2pmesh: OpenSSL %s digest failed\n", name);
  std::abort();
}

std::string concat(std::string_view a, std::string_view b, std::string_view c) {
  std::string s;
  s.reserve(a.size() + b.size() + c.size());
  s.append(a).append(b).append(c);
  return s;
}

}  // namespace

Digest256 sha256(ByteView data) noexcept {
  SHA256_CTX ctx;
  Digest256 out{};
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, data.data(), data.size()) != 1 ||
      SHA256_Final(out.data(), &ctx) != 1)
    digest_failed("SHA256");
  return out;
}

Digest384 sha384(ByteView data) noexcept {
  SHA512_CTX ctx;  // SHA-384 is SHA-512 with other initial values, cut to 48 bytes
  Digest384 out{};
  if (SHA384_Init(&ctx) != 1 || SHA384_Update(&ctx, data.data(), data.size()) != 1 ||
      SHA384_Final(out.data(), &ctx) != 1)
    digest_failed("SHA384");
  return out;
}

std::string base58_encode_int(ByteView big_endian_integer) {
  // Schoolbook base conversion: the base-58 digits (least significant first) absorb one
  // input byte at a time. Ids are 32-48 bytes, so the quadratic cost is a few thousand steps.
  std::vector<std::uint8_t> digits;
  digits.reserve(big_endian_integer.size() * 138 / 100 + 1);  // log(256) / log(58) < 1.38
  for (const std::uint8_t byte : big_endian_integer) {
    unsigned carry = byte;
    for (std::uint8_t& d : digits) {
      carry += static_cast<unsigned>(d) << 8;
      d = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry != 0) {
      digits.push_back(static_cast<std::uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  // Leading zero bytes never create digits, so there is no '1' padding; and the integer 0
  // (no digits at all) is written "1", as b58encode_int does.
  if (digits.empty()) return std::string(1, base58_alphabet[0]);
  std::string text;
  text.reserve(digits.size());
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) text.push_back(base58_alphabet[*it]);
  return text;
}

std::optional<Bytes> base58_decode_int(std::string_view text) {
  // The big-endian bytes (least significant last) absorb one base-58 digit at a time.
  Bytes bytes;
  for (const char c : text) {
    const int digit = base58_digits[static_cast<unsigned char>(c)];
    if (digit == not_base58) return std::nullopt;
    unsigned carry = static_cast<unsigned>(digit);
    for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) {
      carry += static_cast<unsigned>(*it) * 58;
      *it = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry != 0) {
      bytes.insert(bytes.begin(), static_cast<std::uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  // A leading digit '1' is a zero and adds no byte, so the magnitude has no leading zeros.
  return bytes;
}

int compare_base58_int(std::string_view a, std::string_view b) noexcept {
  // A base58 string is a positional numeral, so once leading zero digits ('1') are stripped,
  // a longer numeral is a larger number, and numerals of equal length compare by their first
  // differing digit. The Bitcoin alphabet is listed in ASCII order, so for valid text this is
  // plain length-then-lexicographic string comparison, with no big-integer decoding. Digits
  // go through the table only so that invalid characters count as zero, as documented.
  const auto digit = [](char c) {
    const int d = base58_digits[static_cast<unsigned char>(c)];
    return d == not_base58 ? 0 : d;
  };
  const auto strip_zeros = [&](std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && digit(s[i]) == 0) ++i;
    return s.substr(i);
  };
  a = strip_zeros(a);
  b = strip_zeros(b);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const int da = digit(a[i]);
    const int db = digit(b[i]);
    if (da != db) return da < db ? -1 : 1;
  }
  return 0;
}

std::string protocol_id(std::string_view subnet, std::string_view encryption,
                        std::string_view version) {
  const Digest256 d = sha256(as_bytes(concat(subnet, encryption, version)));
  return base58_encode_int(d);
}

std::string node_id(std::string_view out_addr_text, std::string_view protocol_id,
                    std::string_view salt) {
  const Digest384 d = sha384(as_bytes(concat(out_addr_text, protocol_id, salt)));
  return base58_encode_int(d);
}

std::string digest_hex(const Digest256& d) {
  return to_hex(d);
}

}  // namespace p2p::wire
