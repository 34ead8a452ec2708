//! Quantities as scenario files write them (`"90s"`, `"500m"`, `"2Gi"`): serde
//! types that parse and print through [`crate::quantity`]'s text forms,
//! exactly and within its limits (`MAX_DURATION`, `MAX_CPU`, `MAX_MEMORY`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::engine::Millis;
use crate::quantity::{
    Bytes, MilliCpu, format_duration, format_memory, parse_cpu, parse_duration, parse_memory,
};

macro_rules! text_quantity {
    ($name:ident, $inner:ty, $parse:ident, $format:expr, $what:literal) => {
        #[doc = concat!("A ", $what, " as written in a scenario file.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", $what, " string"))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $parse(v).map($name).map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        $parse(&v.to_string()).map($name).map_err(E::custom)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$name, E> {
                        $parse(&v.to_string()).map($name).map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&($format)(self.0))
            }
        }
    };
}

text_quantity!(
    DurationText,
    Millis,
    parse_duration,
    format_duration,
    "duration"
);
text_quantity!(
    CpuText,
    MilliCpu,
    parse_cpu,
    |c: MilliCpu| c.to_string(),
    "cpu quantity"
);
text_quantity!(
    MemoryText,
    Bytes,
    parse_memory,
    format_memory,
    "memory quantity"
);
