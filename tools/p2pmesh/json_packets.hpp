// Packets <-> JSON for the scripting interface (`p2pmesh node --json`).
//
//   JSON string          <-> msgpack str
//   {"b64": "..."}       <-> msgpack bin
//   integer / float      <-> msgpack int / float64 (float32 is widened)
//   true/false, null     <-> bool, nil
//   array                <-> array
//   object               <-> map with str keys
//   {"map": [[k, v],..]} <-  map with any non-str key (output only)
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "p2p/error.hpp"
#include "p2p/value.hpp"

namespace p2p::cli {

using Json = nlohmann::json;

std::string base64_encode(ByteView data);
Result<Bytes> base64_decode(std::string_view text);

/// JSON -> packet; an error names the offending element (e.g. "packets[2]: ...").
Result<Value> json_to_value(const Json& j, const std::string& where = "packet");
Json value_to_json(const Value& v);

}  // namespace p2p::cli
