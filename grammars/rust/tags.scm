; Rust: definitions and references.

(struct_item
  name: (type_identifier) @name) @definition.class

(enum_item
  name: (type_identifier) @name) @definition.enum

(union_item
  name: (type_identifier) @name) @definition.class

(type_item
  name: (type_identifier) @name) @definition.type

(trait_item
  name: (type_identifier) @name) @definition.interface

(function_item
  name: (identifier) @name) @definition.function

(function_signature_item
  name: (identifier) @name) @definition.method

(mod_item
  name: (identifier) @name) @definition.module

(macro_definition
  name: (identifier) @name) @definition.macro

(const_item
  name: (identifier) @name) @definition.constant

(static_item
  name: (identifier) @name) @definition.constant

(field_declaration_list
  (field_declaration
    name: (field_identifier) @name) @definition.field)

(enum_variant
  name: (identifier) @name) @definition.field

; `impl Type` and `impl Trait for Type` are not definitions, but the functions inside them are
; methods of Type: @scope names the parent without emitting a tag (see grammars/README.md).
(impl_item
  type: [
    (type_identifier) @name
    (generic_type
      type: (type_identifier) @name)
    (scoped_type_identifier
      name: (type_identifier) @name)
  ]) @scope

(impl_item
  trait: [
    (type_identifier) @name
    (generic_type
      type: (type_identifier) @name)
    (scoped_type_identifier
      name: (type_identifier) @name)
  ]) @reference.implementation

(call_expression
  function: [
    (identifier) @name
    (field_expression
      field: (field_identifier) @name)
    (scoped_identifier
      name: (identifier) @name)
    (generic_function
      function: [
        (identifier) @name
        (scoped_identifier
          name: (identifier) @name)
        (field_expression
          field: (field_identifier) @name)
      ])
  ]) @reference.call

(macro_invocation
  macro: [
    (identifier) @name
    (scoped_identifier
      name: (identifier) @name)
  ]) @reference.call

(struct_expression
  name: [
    (type_identifier) @name
    (scoped_type_identifier
      name: (type_identifier) @name)
  ]) @reference.class

(use_declaration
  argument: [
    (identifier) @name
    (scoped_identifier
      name: (identifier) @name)
  ]) @reference.import

(use_list
  [
    (identifier) @name
    (scoped_identifier
      name: (identifier) @name)
  ] @reference.import)

(type_identifier) @name @reference.type

; Imports, for repo.importers: use a::b::C; use a::{b, c::D}; use a::b as c; use a::*;
(use_declaration
  argument: (scoped_identifier
    path: (_) @import.module
    name: (identifier) @import.name)) @import

(use_declaration
  argument: (identifier) @import.module) @import

(use_declaration
  argument: (use_as_clause
    path: [
      (scoped_identifier
        path: (_) @import.module
        name: (identifier) @import.name)
      (identifier) @import.module
    ]
    alias: (identifier) @import.alias)) @import

(use_declaration
  argument: (scoped_use_list
    path: (_) @import.module
    list: (use_list
      [
        (identifier)
        (scoped_identifier)
      ] @import.name))) @import

(use_declaration
  argument: (use_wildcard
    (_) @import.module)) @import
