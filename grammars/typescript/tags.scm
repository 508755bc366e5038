; TypeScript additions; JavaScript's tags.scm is loaded first (see languages.toml).

(function_signature
  name: (identifier) @name) @definition.function

(method_signature
  name: (property_identifier) @name) @definition.method

(abstract_method_signature
  name: (property_identifier) @name) @definition.method

(abstract_class_declaration
  name: (type_identifier) @name) @definition.class

(interface_declaration
  name: (type_identifier) @name) @definition.interface

(type_alias_declaration
  name: (type_identifier) @name) @definition.type

(enum_declaration
  name: (identifier) @name) @definition.enum

(internal_module
  name: [
    (identifier)
    (nested_identifier)
  ] @name) @definition.module

(module
  name: [
    (identifier)
    (string)
  ] @name) @definition.module

(public_field_definition
  name: (property_identifier) @name) @definition.field

(property_signature
  name: (property_identifier) @name) @definition.field

; References through types: annotations, generics, extends and implements clauses.
(type_annotation
  [
    (type_identifier) @name
    (generic_type
      name: (type_identifier) @name)
  ]) @reference.type

(type_arguments
  (type_identifier) @name) @reference.type

(extends_clause
  value: [
    (identifier) @name
    (member_expression
      property: (property_identifier) @name)
  ]) @reference.base

(implements_clause
  [
    (type_identifier) @name
    (generic_type
      name: (type_identifier) @name)
  ]) @reference.implementation

(extends_type_clause
  type: [
    (type_identifier) @name
    (generic_type
      name: (type_identifier) @name)
  ]) @reference.implementation
