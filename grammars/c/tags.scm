; C: definitions and references. C++ loads this file too (see languages.toml), so every
; pattern must also be valid in the C++ grammar.

(function_definition
  declarator: [
    (function_declarator
      declarator: (identifier) @name)
    (pointer_declarator
      declarator: (function_declarator
        declarator: (identifier) @name))
    (pointer_declarator
      declarator: (pointer_declarator
        declarator: (function_declarator
          declarator: (identifier) @name)))
  ]) @definition.function

; Prototypes (in headers, mostly): declarations of functions defined elsewhere.
(declaration
  declarator: [
    (function_declarator
      declarator: (identifier) @name)
    (pointer_declarator
      declarator: (function_declarator
        declarator: (identifier) @name))
  ]) @definition.function

(struct_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.class

(union_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.class

(enum_specifier
  name: (type_identifier) @name
  body: (enumerator_list)) @definition.enum

(enumerator
  name: (identifier) @name) @definition.constant

(type_definition
  declarator: (type_identifier) @name) @definition.type

(field_declaration_list
  (field_declaration
    declarator: [
      (field_identifier) @name
      (pointer_declarator
        declarator: (field_identifier) @name)
      (array_declarator
        declarator: (field_identifier) @name)
    ]) @definition.field)

(preproc_def
  name: (identifier) @name) @definition.macro

(preproc_function_def
  name: (identifier) @name) @definition.macro

; File-level variables: static int retries = 3;
(translation_unit
  (declaration
    declarator: [
      (identifier) @name
      (init_declarator
        declarator: (identifier) @name)
      (init_declarator
        declarator: (pointer_declarator
          declarator: (identifier) @name))
      (init_declarator
        declarator: (array_declarator
          declarator: (identifier) @name))
    ]) @definition.variable)

(call_expression
  function: [
    (identifier) @name
    (field_expression
      field: (field_identifier) @name)
  ]) @reference.call

(type_identifier) @name @reference.type

; Includes, for repo.importers: #include "x/y.h" and <y.h>
(preproc_include
  path: (_) @import.module) @import
