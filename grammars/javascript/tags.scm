; JavaScript: definitions and references. TypeScript and TSX use this file too, so every
; pattern here must also be valid in their grammars (JavaScript-only ones live in heritage.scm).

(class_declaration
  name: (_) @name) @definition.class

(class
  name: (_) @name) @definition.class

(method_definition
  name: [
    (property_identifier)
    (private_property_identifier)
  ] @name) @definition.method

[
  (function_declaration
    name: (identifier) @name)
  (generator_function_declaration
    name: (identifier) @name)
  (function_expression
    name: (identifier) @name)
] @definition.function

; const f = () => ..., var g = function () {...}
(variable_declarator
  name: (identifier) @name
  value: [
    (arrow_function)
    (function_expression)
    (generator_function)
  ]) @definition.function

; Top-level constants: const X = ...; export const Y = ...
(program
  (lexical_declaration
    (variable_declarator
      name: (identifier) @name
      value: [
        (number)
        (string)
        (template_string)
        (object)
        (array)
        (new_expression)
        (call_expression)
        (identifier)
        (member_expression)
        (binary_expression)
        (true)
        (false)
        (null)
      ]) @definition.constant))

(program
  (export_statement
    declaration: (lexical_declaration
      (variable_declarator
        name: (identifier) @name
        value: [
          (number)
          (string)
          (template_string)
          (object)
          (array)
          (new_expression)
          (call_expression)
          (identifier)
          (member_expression)
          (binary_expression)
          (true)
          (false)
          (null)
        ]) @definition.constant)))

; obj.f = function () {...}; exports.g = () => ...
(assignment_expression
  left: (member_expression
    property: (property_identifier) @name)
  right: [
    (arrow_function)
    (function_expression)
  ]) @definition.function

; { f: () => ..., g: function () {...} }
(pair
  key: (property_identifier) @name
  value: [
    (arrow_function)
    (function_expression)
  ]) @definition.function

; Calls: f(...), obj.f(...); require(...) is plumbing, not a reference.
((call_expression
  function: (identifier) @name) @reference.call
  (#not-eq? @name "require"))

(call_expression
  function: (member_expression
    property: (property_identifier) @name)) @reference.call

(new_expression
  constructor: [
    (identifier) @name
    (member_expression
      property: (property_identifier) @name)
  ]) @reference.class

; Imports, for repo.importers: the module (a string) and each name imported from it; in
; import { a, b as c } from "x" the imported name is also a reference.
(import_statement
  source: (string) @import.module) @import

(import_statement
  (import_clause
    (named_imports
      (import_specifier
        name: (_) @name @import.name
        alias: (_)? @import.alias)))
  source: (string) @import.module) @import @reference.import

(export_statement
  source: (string) @import.module) @import

((call_expression
  function: (identifier) @_require
  arguments: (arguments
    .
    (string) @import.module)) @import
  (#eq? @_require "require"))
