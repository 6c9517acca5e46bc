; segcam-common.scm — the headless tests of the Seg-Grad-CAM plug-in that GIMP 2.10 and 3.0 share.
;
; run-gimp-tests.py defines segcam-dir (its scratch folder: input images, the plug-in folder with
; its models, the GIMP profile, outputs) and segcam-common (this file), then loads the version's
; own file — tests/gimp/segcam-tests.scm (2.10) or tests/gimp3/segcam-tests.scm (3.0) — which
; loads this one and defines the helpers whose script-fu differs between the versions (how PDB
; calls return values, how the procedures take drawables, how layers are exported, where last
; values live: the "version helpers" listed below), and calls one of the entry points at the end.
; Each test prints "segcam-test: ok NAME" or "segcam-test: FAIL NAME: why" through gimp-message,
; and exports layers as PNG files that the driver compares with the segcam command line's output.
;
; Version helpers: st-open (a path) st-load (a file of the scratch folder) st-load-layer
; st-new-image st-new-layer st-new-group st-source st-select-layer st-name st-layers st-children
; st-group? st-visible? st-has-alpha? st-parent st-offsets st-size st-opacity st-gray?
; st-has-selection? st-selection-value st-selection-channel st-save st-explain-mode st-segment
; st-convert-indexed st-out-of-range st-repeat-error st-store-last-classes st-store-last-options
; st-test-registration st-test-errors-more st-explain-method st-heat-map-select
; st-heat-map-select-mode st-parasite st-channels st-invert st-persistent-running?.
;
; The fixture rgb.png (48 x 40) has red squares at x 8..21, y 8..23 and x 36..40, y 30..34, a
; green bar at x 26..31, y 4..36 and a blue square at x 38..45, y 6..13 on a dark background; the
; tiny test model predicts "digit 1" for red, "digit 2" for green, "digit 3" for blue.

(define (st-path name) (string-append segcam-dir "/" name))
(define (st-gray-model) (st-path "plug-ins/seg-grad-cam/models/tiny-gray.safetensors"))

; ---- reporting -----------------------------------------------------------------------------

(define st-failures '())

(define (st-join items separator)
  (if (null? items)
      ""
      (let loop ((text (car items)) (rest (cdr items)))
        (if (null? rest)
            text
            (loop (string-append text separator (car rest)) (cdr rest))))))

(define (st-show value)
  (cond ((string? value) (string-append "\"" value "\""))
        ((number? value) (number->string value))
        ((symbol? value) (symbol->string value))
        ((eq? value #t) "#t")
        ((eq? value #f) "#f")
        ((null? value) "()")
        ((pair? value) (string-append "(" (st-join (map st-show value) " ") ")"))
        ((vector? value) (string-append "#" (st-show (vector->list value))))
        (else "?")))

(define (st-expect ok what)
  (if (not ok) (set! st-failures (cons what st-failures))))

(define (st-expect-equal got want what)
  (st-expect (equal? got want)
             (string-append what ": got " (st-show got) ", want " (st-show want))))

; (ok . value), or (error . message) when thunk raises a script-fu error (a failed PDB call).
(define (st-try thunk)
  (call/cc
    (lambda (return)
      (let ((previous *error-hook*))
        (set! *error-hook*
              (lambda args
                (set! *error-hook* previous)
                (return (cons 'error (st-join (map (lambda (a) (if (string? a) a (st-show a)))
                                                   args)
                                              " ")))))
        (let ((value (thunk)))
          (set! *error-hook* previous)
          (cons 'ok value))))))

(define (st-test name thunk)
  (set! st-failures '())
  (let ((result (st-try thunk)))
    (if (eq? (car result) 'error)
        (st-expect #f (string-append "script error: " (cdr result))))
    (gimp-message (if (null? st-failures)
                      (string-append "segcam-test: ok " name)
                      (string-append "segcam-test: FAIL " name ": "
                                     (st-join (reverse st-failures) "; "))))))

(define (st-contains text part)
  (let ((n (string-length text)) (m (string-length part)))
    (let loop ((i 0))
      (cond ((> (+ i m) n) #f)
            ((string=? (substring text i (+ i m)) part) #t)
            (else (loop (+ i 1)))))))

; ---- images and layers ---------------------------------------------------------------------

; Every layer of the image, layer groups and their contents included.
(define (st-count-layers image)
  (let count ((items (st-layers image)))
    (if (null? items)
        0
        (+ 1
           (if (st-group? (car items)) (count (st-children (car items))) 0)
           (count (cdr items))))))

(define (st-select image x y w h)
  (gimp-image-select-rectangle image CHANNEL-OP-REPLACE x y w h))

(define (st-explain image drawable model classes layer roi score colormap opacity outputs)
  (st-explain-mode RUN-NONINTERACTIVE image drawable model classes layer roi score colormap
                   opacity outputs))

; Explains with the grayscale colormap and saves the heat map (the group's first layer);
; returns the group.
(define (st-explain-save image drawable classes layer roi score file)
  (let* ((group (st-explain image drawable "" classes layer roi score 4 100 1)))
    (st-save image (car (st-children group)) file)
    group))

; The selection's weights over the layer, as an ASCII PGM (the driver makes it the CLI's mask).
(define (st-save-selection image layer file)
  (let* ((port (open-output-file (st-path file)))
         (size (st-size layer))
         (offsets (st-offsets layer)))
    (display (string-append "P2\n" (number->string (car size)) " " (number->string (cadr size))
                            "\n255\n")
             port)
    (let rows ((y 0))
      (if (< y (cadr size))
          (begin
            (let columns ((x 0))
              (if (< x (car size))
                  (begin
                    (display (number->string (st-selection-value image (+ x (car offsets))
                                                                 (+ y (cadr offsets))))
                             port)
                    (display " " port)
                    (columns (+ x 1)))))
            (newline port)
            (rows (+ y 1)))))
    (close-output-port port)))

; rgb.png as the layer "source" between a layer "top" and a layer "bottom".
(define (st-sandwich)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image))
         (top (st-new-layer image "top" 48 40 RGBA-IMAGE))
         (bottom (st-new-layer image "bottom" 48 40 RGB-IMAGE)))
    (gimp-item-set-name source "source")
    (gimp-image-insert-layer image top 0 0)
    (gimp-image-insert-layer image bottom 0 2)
    (st-select-layer image source)
    image))

; An image of 50 x 45 with rgb.png as a layer at (10, 12), partly outside the canvas.
(define (st-offset-image)
  (let* ((image (st-new-image 50 45))
         (background (st-new-layer image "background" 50 45 RGB-IMAGE))
         (layer (st-load-layer image "rgb.png")))
    (gimp-image-insert-layer image background 0 0)
    (gimp-image-insert-layer image layer 0 0)
    (gimp-layer-set-offsets layer 10 12)
    (st-select-layer image layer)
    image))

; Expects a failed call whose message contains part (or each of a list of parts), and no new
; layer.
(define (st-expect-failure image what parts thunk)
  (let* ((before (st-count-layers image))
         (result (st-try thunk)))
    (st-expect (eq? (car result) 'error) (string-append what ": did not fail"))
    (if (eq? (car result) 'error)
        (for-each (lambda (part)
                    (st-expect (st-contains (cdr result) part)
                               (string-append what ": message " (st-show (cdr result))
                                              " lacks " (st-show part))))
                  (if (string? parts) (list parts) parts)))
    (st-expect-equal (st-count-layers image) before (string-append what ": layer count"))))

; ---- batch tests ---------------------------------------------------------------------------

; Placement, names, offsets, the untouched source, and the heat map for the CLI comparison.
(define (st-test-rect)
  (let* ((image (st-sandwich))
         (source (st-source image)))
    (st-select image 6 6 20 20)
    (let* ((group (st-explain image source "" "digit 1" "" 0 0 4 50 1))
           (kids (st-children group))
           (heat (car kids)))
      (st-expect (st-group? group) "returns a layer group")
      (st-expect-equal (st-name group) "digit 1 @ mid.relu1 — Seg-Grad-CAM (texture-mnist-biased)"
                       "group name: the class and layer first")
      (st-expect-equal (map st-name (st-layers image))
                       '("top" "digit 1 @ mid.relu1 — Seg-Grad-CAM (texture-mnist-biased)"
                         "source" "bottom")
                       "group directly above the source")
      (st-expect-equal (st-parent group) -1 "group at the top level, as the source")
      (st-expect-equal (map st-name kids) '("digit 1 @ mid.relu1 (selection) — Seg-Grad-CAM")
                       "layer names")
      (st-expect-equal (st-size heat) '(48 40) "heat map size")
      (st-expect-equal (st-offsets heat) '(0 0) "heat map offsets")
      (st-expect-equal (st-opacity heat) 50.0 "heat map opacity")
      (st-expect (st-visible? heat) "heat map visible")
      (st-expect-equal (st-source image) source "the source stays the active layer")
      (st-expect (st-has-selection? image) "selection kept")
      (st-save image heat "rect-heat.png")
      (st-save image source "rect-source.png"))
    (gimp-image-delete image)))

; Runs again on the same layer: each result goes above the earlier ones for that layer (newest
; on top), which the plug-in finds by a mark, not by their names; the source stays the active
; layer, so that the next run (Repeat) finds it. Results for another layer stay by that layer.
(define (st-test-rerun)
  (let* ((image (st-sandwich))
         (source (st-source image))
         (bottom (list-ref (st-layers image) 2))
         (first (st-explain image source "" "digit 1" "" 0 0 0 60 1)))
    (define (names) (map st-name (st-layers image)))
    (st-expect-equal (st-source image) source "active after the first run")
    (gimp-item-set-name first "first")
    (st-explain image (st-source image) "" "digit 2" "" 0 0 0 60 1)
    (st-expect-equal (names) '("top" "digit 2 @ mid.relu1 — Seg-Grad-CAM (texture-mnist-biased)"
                               "first" "source" "bottom")
                     "the second group above the first, both above the source")
    (st-expect-equal (st-source image) source "active after the second run")
    (st-segment RUN-NONINTERACTIVE image (st-source image) "" 60)
    (st-expect-equal (names) '("top" "Segmentation: texture-mnist-biased"
                               "digit 2 @ mid.relu1 — Seg-Grad-CAM (texture-mnist-biased)"
                               "first" "source" "bottom")
                     "a segmentation above them")
    (st-expect-equal (st-source image) source "active after segmenting")
    (gimp-item-set-name (st-explain image bottom "" "digit 3" "" 0 0 0 60 1) "for the bottom")
    (st-expect-equal (list-tail (names) 4) '("source" "for the bottom" "bottom")
                     "another layer's result directly above it")
    (st-expect-equal (st-source image) bottom "that layer active")
    (gimp-image-delete image)))

; Several classes and every output; the CLI comparison of heat maps, overlay and segmentation.
(define (st-test-multi)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image))
         (group (st-explain image source "" "digit 1, 2" "" 0 0 0 50 7))
         (kids (st-children group)))
    (st-expect-equal (map st-name kids)
                     '("digit 1 @ mid.relu1 (whole layer) — Seg-Grad-CAM"
                       "digit 1 @ mid.relu1 (whole layer) — Seg-Grad-CAM overlay"
                       "digit 2 @ mid.relu1 (whole layer) — Seg-Grad-CAM"
                       "digit 2 @ mid.relu1 (whole layer) — Seg-Grad-CAM overlay"
                       "Segmentation: texture-mnist-biased")
                     "layer names")
    (st-expect-equal (st-name group)
                     "digit 1, digit 2 @ mid.relu1 — Seg-Grad-CAM (texture-mnist-biased)"
                     "group name: the classes and layer first")
    (st-expect-equal (map st-visible? kids) '(#t #f #f #f #f) "only the top layer visible")
    (st-expect-equal (map st-opacity kids) '(50.0 100.0 50.0 100.0 50.0) "opacities")
    (st-save image (list-ref kids 0) "multi-heat1.png")
    (st-save image (list-ref kids 1) "multi-overlay1.png")
    (st-save image (list-ref kids 2) "multi-heat2.png")
    (st-save image (list-ref kids 4) "multi-segmentation.png")
    (gimp-image-delete image)))

(define (st-test-default-class)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image)))
    (define (explained-class)
      (st-name (car (st-children (st-explain image source "" "" "" 0 0 0 60 1)))))
    (st-select image 25 2 8 36)
    (st-expect-equal (explained-class) "digit 2 @ mid.relu1 (selection) — Seg-Grad-CAM"
                     "the class predicted most in the selection")
    (gimp-selection-none image)
    (st-expect-equal (explained-class) "background @ mid.relu1 (whole layer) — Seg-Grad-CAM"
                     "the class predicted most in the layer")
    (gimp-image-delete image)))

; ROI modes 1 to 3, another layer and the probability score.
(define (st-test-roi-modes)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image)))
    (st-select image 6 6 40 32)
    (define (names classes layer roi score file)
      (map st-name (st-children (st-explain-save image source classes layer roi score file))))
    (st-expect-equal (names "digit 1" "enc.relu1" 1 0 "roi-class-in-selection.png")
                     '("digit 1 @ enc.relu1 (predicted in selection) — Seg-Grad-CAM")
                     "selection and class")
    ; This map is zero everywhere: named so, and the group says why in its warnings.
    (st-expect-equal (names "digit 1" "" 2 1 "roi-class.png")
                     '("digit 1 @ mid.relu1 (predicted) — Seg-Grad-CAM — all zero") "class")
    (let ((warnings (st-parasite (car (st-layers image)) "segcam-warnings")))
      (st-expect (and warnings (st-contains warnings "is zero everywhere")
                      (st-contains warnings "try abs weights"))
                 (string-append "zero-map warning: " (st-show warnings))))
    (st-expect-equal (names "digit 1" "" 3 0 "roi-component.png")
                     '("digit 1 @ mid.relu1 (largest region in selection) — Seg-Grad-CAM")
                     "largest component")
    (gimp-image-delete image)))

(define (st-test-feathered)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image)))
    (gimp-image-select-ellipse image CHANNEL-OP-REPLACE 6 6 24 22)
    (gimp-selection-feather image 10)
    (st-save-selection image source "feathered-mask.pgm")
    (st-explain-save image source "digit 1" "" 0 0 "feathered-heat.png")
    (gimp-image-delete image)))

(define (st-test-offsets)
  (let* ((image (st-offset-image))
         (source (st-source image)))
    (st-select image 16 18 20 16)
    (let* ((group (st-explain-save image source "digit 1" "" 0 0 "offset-heat.png"))
           (heat (car (st-children group))))
      (st-expect-equal (st-offsets heat) '(10 12) "heat map aligned with the layer")
      (st-expect-equal (st-size heat) '(48 40) "heat map of the layer's size")
      (st-expect-equal (st-offsets group) '(10 12) "group aligned with the layer")
      (st-expect-equal (map st-name (st-layers image))
                       '("digit 1 @ mid.relu1 — Seg-Grad-CAM (texture-mnist-biased)" "rgb.png"
                         "background")
                       "group above the layer"))
    ; Without a selection the ROI is the whole layer, also where it leaves the canvas.
    (gimp-selection-none image)
    (st-explain-save image source "digit 1" "" 0 0 "offset-whole-heat.png")
    (gimp-image-delete image)))

; A source layer inside a layer group: the new group goes into that group, above the source.
(define (st-test-nested)
  (let* ((image (st-new-image 48 40))
         (folder (st-new-group image "folder"))
         (layer (st-load-layer image "rgb.png"))
         (sibling (st-new-layer image "sibling" 48 40 RGBA-IMAGE)))
    (gimp-item-set-name layer "source")
    (gimp-image-insert-layer image folder 0 0)
    (gimp-image-insert-layer image layer folder 0)
    (gimp-image-insert-layer image sibling folder 0)
    (let ((group (st-explain image layer "" "digit 2" "" 0 0 0 60 1)))
      (st-expect-equal (st-parent group) folder "group in the source's parent")
      (st-expect-equal (map st-name (st-children folder))
                       '("sibling" "digit 2 @ mid.relu1 — Seg-Grad-CAM (texture-mnist-biased)"
                         "source")
                       "group directly above the source"))
    (gimp-image-delete image)))

; A grayscale image gets its results in colour: the image becomes RGB in the run's undo step,
; the source keeping its pixel values (the driver compares them with gray.png, and the heat map
; and segmentation with the CLI's colour output).
(define (st-test-gray)
  (let* ((image (st-load "gray.png"))
         (source (st-source image)))
    (let* ((group (st-explain image source (st-gray-model) "foreground" "" 0 0 0 60 5))
           (kids (st-children group)))
      (st-expect-equal (map st-name kids) '("foreground @ enc.relu1 (whole layer) — Seg-Grad-CAM"
                                            "Segmentation: tiny-gray")
                       "layer names")
      (st-expect (not (st-gray? (car kids))) "an RGB heat map")
      (st-expect-equal (st-parasite group "segcam-warnings") #f "a gray model on gray: no warning")
      (st-expect (not (st-gray? source)) "the image converted to RGB")
      (st-expect-equal (st-source image) source "the source still the active layer")
      (st-save image (car kids) "gray-heat.png")
      (st-save image (cadr kids) "gray-segmentation.png")
      (st-save image source "gray-source.png"))
    ; An RGB model on a gray image sees the gray replicated, and the result says so.
    (let ((group (st-explain image source "" "digit 1" "" 0 0 4 60 1)))
      (st-save image (car (st-children group)) "gray-rgb-model-heat.png")
      (st-expect (st-contains (or (st-parasite group "segcam-warnings") "")
                              "a gray image into a colour model")
                 "gray into a colour model: warned"))
    ; Alpha is ignored.
    (gimp-layer-add-alpha source)
    (st-save image (car (st-children (st-explain image source (st-gray-model) "foreground" "" 0 0
                                                 0 60 1)))
             "gray-alpha-heat.png")
    (gimp-image-delete image)))

(define (st-test-precision)
  (define (heat-at precision file)
    (let ((image (st-load "rgb.png")))
      (gimp-image-convert-precision image precision)
      (st-select image 6 6 20 20)
      (let ((group (st-explain image (st-source image) "" "digit 1" "" 0 0 4 100 1)))
        ; Back to 8-bit for the PNG: the heat map holds 8-bit gray levels anyway.
        (gimp-image-convert-precision image 150)
        (st-save image (car (st-children group)) file))
      (gimp-image-delete image)))
  (heat-at 250 "u16-heat.png")     ; 16-bit non-linear
  (heat-at 600 "float-heat.png")   ; 32-bit float linear
  (let* ((image (st-load "rgb.png"))
         (source (st-source image)))
    (gimp-layer-add-alpha source)
    (st-select image 30 20 10 10)
    (gimp-drawable-edit-clear source)
    (st-select image 6 6 20 20)
    (st-explain-save image source "digit 1" "" 0 0 "alpha-heat.png")
    (st-save image source "alpha-source.png")
    (gimp-image-delete image)))

; Larger than the batch mode's maximum working size (1024): resampled there and back.
(define (st-test-resampled)
  (let* ((image (st-load "big.png"))
         (group (st-explain image (st-source image) "" "digit 1" "" 2 0 0 60 5))
         (kids (st-children group)))
    (st-expect-equal (map st-name kids) '("digit 1 @ mid.relu1 (predicted) — Seg-Grad-CAM"
                                          "Segmentation: texture-mnist-biased")
                     "layer names")
    (st-expect-equal (map st-size kids) '((1100 700) (1100 700)) "layers of the layer's size")
    (st-save image (car kids) "big-heat.png")
    (st-save image (cadr kids) "big-segmentation.png")
    (gimp-image-delete image)))

(define (st-test-segment)
  (let* ((image (st-sandwich))
         (source (st-source image))
         (layer (st-segment RUN-NONINTERACTIVE image source "" 70)))
    (st-expect (not (st-group? layer)) "returns a layer")
    (st-expect-equal (st-name layer) "Segmentation: texture-mnist-biased" "name")
    (st-expect-equal (map st-name (st-layers image))
                     '("top" "Segmentation: texture-mnist-biased" "source" "bottom")
                     "directly above the source")
    (st-expect-equal (st-opacity layer) 70.0 "opacity")
    (st-save image layer "segment.png")
    (gimp-image-delete image)))

(define (st-test-errors)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image))
         (offset (st-offset-image)))
    (define (explain model classes layer roi outputs opacity)
      (lambda () (st-explain image source model classes layer roi 0 0 opacity outputs)))
    (st-expect-failure image "missing model" "cannot read model"
                       (explain "/nonexistent/missing.safetensors" "" "" 0 1 60))
    (st-expect-failure image "corrupt model" "corrupt.safetensors: "
                       (explain (st-path "corrupt.safetensors") "" "" 0 1 60))
    (st-expect-failure image "unknown class" "unknown class \"digit 12\""
                       (explain "" "digit 1, digit 12" "" 0 1 60))
    (st-expect-failure image "unknown layer" "unknown layer \"nope\"" (explain "" "" "nope" 0 1 60))
    (st-select image 0 30 6 8)
    (st-expect-failure image "no class pixel in the selection"
                       "empty ROI: no pixel of the selection is predicted as \"digit 1\""
                       (explain "" "digit 1" "" 1 1 60))
    (st-expect-failure image "roi-mode out of range" (st-out-of-range 'roi-mode)
                       (explain "" "" "" 9 1 60))
    (st-expect-failure image "no outputs" (st-out-of-range 'outputs) (explain "" "" "" 0 0 60))
    (st-expect-failure image "opacity out of range" (st-out-of-range 'opacity)
                       (explain "" "" "" 0 1 150))
    (st-expect-failure image "a channel" "works on a layer"
                       (lambda () (st-explain image (st-selection-channel image)
                                              "" "" "" 0 0 0 60 1)))
    (st-expect-failure image "segment, missing model" "cannot read model"
                       (lambda () (st-segment RUN-NONINTERACTIVE image source
                                              "/nonexistent/missing.safetensors" 60)))
    (st-test-errors-more image source)
    (let ((indexed (st-load "rgb.png")))
      (st-convert-indexed indexed)
      (st-expect-failure indexed "an indexed image" "not on indexed ones"
                         (lambda () (st-explain indexed (st-source indexed) "" "" "" 0 0 0 60 1)))
      (gimp-image-delete indexed))
    (st-select offset 0 0 8 8)
    (st-expect-failure offset "selection outside the layer"
                       "empty ROI: the selection does not overlap the layer"
                       (lambda () (st-explain offset (st-source offset) "" "" "" 0 0 0 60 1)))
    (let ((group (st-new-group offset "folder")))
      (gimp-image-insert-layer offset group 0 0)
      (st-expect-failure offset "a layer group" "works on a layer"
                         (lambda () (st-explain offset group "" "" "" 0 0 0 60 1))))
    (gimp-image-delete offset)
    (gimp-image-delete image)))

; Repeat Last before any dialog runs with the defaults (in GIMP 3: with the arguments, which are
; the defaults here, as they are from the menu). Its errors reach the user (the driver looks on
; the console) and, in GIMP 3, the caller too.
(define (st-test-last-values)
  (let* ((image (st-load "rgb.png"))
         (group (st-explain-mode RUN-WITH-LAST-VALS image (st-source image) "" "" "" 0 0 0 60 1))
         (offset (st-offset-image)))
    (st-expect-equal (map st-name (st-children group))
                     '("background @ mid.relu1 (whole layer) — Seg-Grad-CAM") "default settings")
    (st-expect-equal (st-opacity (car (st-children group))) 60.0 "default opacity")
    (st-select offset 0 0 8 8)
    (st-expect-failure offset "repeat with an empty ROI" st-repeat-error
                       (lambda () (st-explain-mode RUN-WITH-LAST-VALS offset (st-source offset)
                                                   "" "" "" 0 0 0 60 1)))
    (gimp-image-delete offset)
    (gimp-image-delete image)))

; plug-in-segcam-explain-method: the method and its options, in the names and (the driver
; compares with the command line) in the pixels; its own errors.
(define (st-test-explain-method)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image)))
    (define (capped-heat method weights pool pool-mode max-channels file)
      (let ((group (st-explain-method image source "" "digit 1" "" 0 0 4 100 1 method weights
                                      pool pool-mode 0 max-channels)))
        (st-save image (car (st-children group)) file)
        (list (st-name group) (st-name (car (st-children group))))))
    (define (method-heat method weights pool pool-mode file)
      (capped-heat method weights pool pool-mode 0 file))
    (st-select image 6 6 20 20)
    (st-expect-equal (method-heat "xres" 0 2 0 "method-xres.png")
                     '("digit 1 @ mid.relu1 — xres 2 max (texture-mnist-biased)"
                       "digit 1 @ mid.relu1 (selection) — xres 2 max")
                     "xres names")
    (st-expect-equal (cadr (method-heat "xres" 0 3 1 "method-xres-mean.png"))
                     "digit 1 @ mid.relu1 (selection) — xres 3 mean" "xres mean")
    (st-expect-equal (cadr (method-heat "seg-grad-cam" 1 2 0 "method-abs.png"))
                     "digit 1 @ mid.relu1 (selection) — Seg-Grad-CAM abs" "abs weights")
    (st-expect-equal (cadr (method-heat "seg-grad-cam" 0 2 0 "method-default.png"))
                     "digit 1 @ mid.relu1 (selection) — Seg-Grad-CAM" "Seg-Grad-CAM as explain")
    (gimp-selection-none image)
    (st-expect-equal (cadr (method-heat "hires" 0 2 0 "method-hires.png"))
                     "digit 1 @ mid.relu1 (whole layer) — hires" "hires")
    (st-expect-equal (cadr (method-heat "gradcam++" 0 2 0 "method-gradcampp.png"))
                     "digit 1 @ mid.relu1 (whole layer) — gradcam++" "gradcam++")
    (st-expect-equal (cadr (method-heat "eigen" 0 2 0 "method-eigen.png"))
                     "digit 1 @ mid.relu1 (whole layer) — eigen, class-agnostic"
                     "eigen says it is class-agnostic")
    ; The methods that rerun the network per channel, capped (the cap is in the name).
    (st-expect-equal (cadr (capped-heat "score" 0 2 0 3 "method-score.png"))
                     "digit 1 @ mid.relu1 (whole layer) — score, 3 channels" "score")
    (st-expect-equal (cadr (capped-heat "ablation" 0 2 0 3 "method-ablation.png"))
                     "digit 1 @ mid.relu1 (whole layer) — ablation, 3 channels" "ablation")
    (st-expect-equal (st-source image) source "the source stays the active layer")
    (st-expect-failure image "unknown method" (st-out-of-range 'method)
                       (lambda () (method-heat "nope" 0 2 0 "x.png")))
    (st-expect-failure image "weights with another method"
                       "weights other than mean apply to seg-grad-cam only, not to hires"
                       (lambda () (method-heat "hires" 1 2 0 "x.png")))
    (st-expect-failure image "pool 0" (st-out-of-range 'pool)
                       (lambda () (method-heat "xres" 0 0 0 "x.png")))
    (st-expect-failure image "max-channels -1" (st-out-of-range 'max-channels)
                       (lambda () (capped-heat "score" 0 2 0 -1 "x.png")))
    (gimp-image-delete image)))

; A layer sweep: one heat map per block output in one group (the driver compares the first with
; the command line's map at that layer).
(define (st-test-sweep)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image))
         (group (st-explain-method image source "" "digit 1" "" 0 0 4 100 1 "" 0 2 0 1 0))
         (kids (st-children group)))
    (st-expect-equal (st-name group)
                     "digit 1 @ 8 block outputs — Seg-Grad-CAM (texture-mnist-biased)" "group name")
    (st-expect-equal (length kids) 8 "8 block outputs")
    ; (A map zero everywhere would add " — all zero" to its name.)
    (for-each (lambda (kid want)
                (st-expect (st-contains (st-name kid) want)
                           (string-append (st-name kid) " is not " want)))
              kids
              '("digit 1 @ enc.relu1 (whole layer) — Seg-Grad-CAM"
                "digit 1 @ pool1 (whole layer) — Seg-Grad-CAM"
                "digit 1 @ mid.relu1 (whole layer) — Seg-Grad-CAM"
                "digit 1 @ up1 (whole layer) — Seg-Grad-CAM"
                "digit 1 @ cat1 (whole layer) — Seg-Grad-CAM"
                "digit 1 @ dec.conv1 (whole layer) — Seg-Grad-CAM"
                "digit 1 @ colour (whole layer) — Seg-Grad-CAM"
                "digit 1 @ logits (whole layer) — Seg-Grad-CAM"))
    (st-expect-equal (map st-visible? (list (car kids) (cadr kids))) '(#t #f) "the first visible")
    (st-save image (car kids) "sweep-enc.png")
    (gimp-image-delete image)))

; A sweep over listed layers (sweep 2): one heat map per listed node, in the order given (a repeat
; dropped), named with the node, in one group on top of an earlier result, the source left
; active; an unknown node in the list fails naming it and adds nothing.
(define (st-test-sweep-layers)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image))
         (first (st-explain image source "" "digit 1" "" 0 0 0 60 1))
         (group (st-explain-method image source "" "digit 1, digit 2"
                                   "mid.relu1, enc.relu1 , mid.relu1" 0 0 4 100 1 "" 0 2 0 2 0))
         (kids (st-children group)))
    (st-expect-equal (st-name group)
                     "digit 1, digit 2 @ 2 layers — Seg-Grad-CAM (texture-mnist-biased)"
                     "group name")
    (st-expect-equal (map st-name (st-layers image))
                     (list (st-name group) (st-name first) (st-name source))
                     "the sweep's group above the earlier result")
    (st-expect-equal (st-source image) source "the source active after the sweep")
    (st-expect-equal (length kids) 4 "2 layers x 2 classes")
    (for-each (lambda (kid want)
                (st-expect (st-contains (st-name kid) want)
                           (string-append (st-name kid) " is not " want)))
              kids
              '("digit 1 @ mid.relu1 (whole layer) — Seg-Grad-CAM"
                "digit 2 @ mid.relu1 (whole layer) — Seg-Grad-CAM"
                "digit 1 @ enc.relu1 (whole layer) — Seg-Grad-CAM"
                "digit 2 @ enc.relu1 (whole layer) — Seg-Grad-CAM"))
    (st-save image (caddr kids) "sweep-layers-enc.png")
    (st-expect-failure image "an unknown layer in the list" "unknown layer \"nope\""
                       (lambda () (st-explain-method image source "" "digit 1" "enc.relu1, nope"
                                                     0 0 4 100 1 "" 0 2 0 2 0)))
    (st-expect-failure image "sweep 3" (st-out-of-range 'sweep)
                       (lambda () (st-explain-method image source "" "digit 1" "" 0 0 4 100 1 ""
                                                     0 2 0 3 0)))
    (gimp-image-delete image)))

; A colour image into the gray model: warned in the group's parasite; a run without a problem
; has none.
(define (st-test-warnings)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image))
         (plain (st-explain image source "" "digit 1" "" 0 0 0 60 1))
         (gray (st-explain image source (st-gray-model) "foreground" "" 0 0 0 60 1)))
    (st-expect-equal (st-parasite plain "segcam-warnings") #f "no warning")
    (st-expect (st-contains (or (st-parasite gray "segcam-warnings") "")
                            "a colour image into a grayscale model")
               (string-append "colour into gray: " (st-show (st-parasite gray "segcam-warnings"))))
    (gimp-image-delete image)))

; Heat map to selection on a layer at offsets, partly outside the canvas (the driver checks the
; selection against the exported heat map's gray levels), then to a channel; its errors.
(define (st-test-heat-map-select)
  (let* ((image (st-offset-image))
         (source (st-source image))
         (group (st-explain image source "" "digit 1" "" 0 0 4 100 3))
         (heat (car (st-children group)))
         (overlay (cadr (st-children group))))
    (st-expect (st-contains (or (st-parasite heat "segcam-heat-map") "") "grayscale")
               "the heat map names its colormap")
    (st-save image heat "select-heat.png")
    (let ((selection (st-heat-map-select image heat 0.5 0)))
      (st-expect-equal selection (st-selection-channel image) "returns the selection")
      (st-expect (st-has-selection? image) "something selected")
      (st-save-selection image source "select-mask.pgm"))
    (st-expect-equal (st-channels image) '() "no channel left behind")
    (gimp-selection-none image)
    (let ((channel (st-heat-map-select image heat 0.25 1)))
      (st-expect-equal (st-channels image) (list channel) "a new channel")
      (st-expect-equal (st-name channel) (string-append (st-name heat) " ≥ 0.25") "channel name")
      (st-expect (not (st-has-selection? image)) "the selection untouched")
      (gimp-image-select-item image CHANNEL-OP-REPLACE channel)
      (st-save-selection image source "select-channel.pgm"))
    (st-expect-failure image "not a heat map" "not a Seg-Grad-CAM heat map"
                       (lambda () (st-heat-map-select image source 0.5 0)))
    (st-expect-failure image "an overlay" "not a Seg-Grad-CAM heat map"
                       (lambda () (st-heat-map-select image overlay 0.5 0)))
    (st-expect-failure image "threshold out of range" (st-out-of-range 'threshold)
                       (lambda () (st-heat-map-select image heat 1.5 0)))
    ; Moved off the canvas, the heat map has no pixel inside the image to select.
    (gimp-selection-none image)
    (gimp-layer-set-offsets heat 100 100)
    (st-expect-failure image "nothing inside the image"
                       "no pixel of the heat map inside the image reaches the threshold 0.5"
                       (lambda () (st-heat-map-select image heat 0.5 0)))
    (st-expect (not (st-has-selection? image)) "the selection untouched by a failure")
    (gimp-image-delete image)))

(define (segcam-batch-tests)
  (st-test "registration" st-test-registration)
  (st-test "rect" st-test-rect)
  (st-test "multi" st-test-multi)
  (st-test "rerun" st-test-rerun)
  (st-test "default-class" st-test-default-class)
  (st-test "roi-modes" st-test-roi-modes)
  (st-test "feathered" st-test-feathered)
  (st-test "offsets" st-test-offsets)
  (st-test "nested" st-test-nested)
  (st-test "gray" st-test-gray)
  (st-test "precision" st-test-precision)
  (st-test "resampled" st-test-resampled)
  (st-test "segment" st-test-segment)
  (st-test "errors" st-test-errors)
  (st-test "last-values" st-test-last-values)
  (st-test "explain-method" st-test-explain-method)
  (st-test "sweep" st-test-sweep)
  (st-test "sweep-layers" st-test-sweep-layers)
  (st-test "warnings" st-test-warnings)
  (st-test "heat-map-select" st-test-heat-map-select))

; ---- the persistent process ----------------------------------------------------------------

; Run twice by the driver: as GIMP runs the plug-in (Explain hands its runs to the persistent
; process, which keeps the model and the forward pass between them) and with SEGCAM_PERSISTENT=0
; (every run in a process of its own). Each run exports the same heat maps under its prefix and
; the driver compares them pixel for pixel: a run that reused the kept forward pass must give
; what a fresh process gives, after another class, another selection, Score-CAM's reruns of the
; network, an edited layer (the pixels changed under the same layer), another model and another
; image.
(define (segcam-persistent-tests prefix persistent)
  (st-test (string-append "persistent-" prefix)
    (lambda ()
      (let* ((image (st-load "rgb.png"))
             (source (st-source image)))
        (define (save group file)
          (st-save image (car (st-children group)) (string-append prefix "-" file)))
        (define (explain model classes file)
          (save (st-explain image source model classes "" 0 0 4 100 5) file))
        (st-select image 6 6 20 20)
        (explain "" "digit 1" "class1.png")
        (st-expect-equal (st-persistent-running?) persistent "persistent process running")
        (let ((group (st-explain image source "" "digit 2" "" 0 0 4 100 5)))
          (save group "class2.png")
          ; The labels of the kept forward pass give the segmentation.
          (st-save image (cadr (st-children group)) (string-append prefix "-segmentation.png")))
        (st-select image 24 2 12 36)
        (explain "" "digit 2" "selection.png")
        (save (st-explain-method image source "" "digit 1" "" 0 0 4 100 1 "score" 0 2 0 0 3)
              "score.png")
        (explain "" "digit 1" "after-score.png")
        (st-invert source)
        (explain "" "digit 2" "inverted.png")
        (explain (st-gray-model) "foreground" "gray-model.png")
        (explain "" "digit 2" "model-again.png")
        (gimp-image-delete image))
      (let* ((image (st-load "gray.png"))
             (source (st-source image)))
        (st-save image (car (st-children (st-explain image source "" "digit 1" "" 0 0 4 100 1)))
                 (string-append prefix "-other-image.png"))
        (gimp-image-delete image)))))

; The wall time of Explain calls as a script sees them (tests/gimp/time-persistent.py): file (an
; absolute path) scaled to width x height, explained with model for classes-a, then classes-b,
; then classes-b over a selection (the left half), then classes-a after the layer is inverted;
; prints "segcam-time: first S second S selection S edited S".
(define (segcam-time-persistent file model classes-a classes-b width height)
  (define (now) (let ((t (gettimeofday))) (+ (car t) (/ (cadr t) 1e6))))
  (define (timed thunk) (let ((start (now))) (thunk) (- (now) start)))
  (let* ((image (st-open file))
         (source (begin (gimp-image-scale image width height) (st-source image)))
         (explain (lambda (classes)
                    (timed (lambda () (st-explain image source model classes "" 0 0 0 60 1)))))
         (first (explain classes-a))
         (second (explain classes-b))
         (selection (begin (st-select image 0 0 (quotient width 2) height) (explain classes-b)))
         (edited (begin (st-invert source) (explain classes-a))))
    (gimp-message (string-append "segcam-time: first " (number->string first)
                                 " second " (number->string second)
                                 " selection " (number->string selection)
                                 " edited " (number->string edited)))
    (gimp-image-delete image)))

; ---- dialog tests (under Xvfb; SEGCAM_TEST_DIALOG answers the dialog) -------------------------

; Without stored values a GIMP 3 dialog starts from the arguments: the defaults, as from the menu.
(define (st-interactive-explain image source)
  (st-explain-mode RUN-INTERACTIVE image source "" "" "" 0 0 0 60 1))

; A cancelled dialog must leave the image as it was (whether script-fu calls that an error or
; not).
(define (st-expect-cancelled image what thunk)
  (let ((before (st-count-layers image)))
    (st-try thunk)
    (st-expect-equal (st-count-layers image) before (string-append what ": layer count"))))

(define (segcam-dialog-cancel-tests)
  (st-test "dialog-cancel"
    (lambda ()
      (let* ((image (st-load "rgb.png"))
             (source (st-source image)))
        (st-select image 6 6 20 20)
        (st-expect-cancelled image "explain dialog"
                             (lambda () (st-interactive-explain image source)))
        (st-expect-cancelled image "segment dialog"
                             (lambda () (st-segment RUN-INTERACTIVE image source "" 60)))
        (gimp-image-delete image)))))

(define (segcam-dialog-ok-tests)
  (st-test "dialog-ok"
    (lambda ()
      (let* ((image (st-load "rgb.png"))
             (source (st-source image)))
        (st-select image 6 6 20 20)
        (let ((group (st-interactive-explain image source)))
          (st-expect-equal (map st-name (st-children group))
                           '("digit 1 @ mid.relu1 (selection) — Seg-Grad-CAM")
                           "the dialog's defaults")
          (st-expect-equal (st-opacity (car (st-children group))) 60.0 "default opacity"))
        (let ((layer (st-segment RUN-INTERACTIVE image source "" 60)))
          (st-expect-equal (st-name layer) "Segmentation: texture-mnist-biased" "segment"))
        (gimp-image-delete image))))
  (st-test "repeat-last"
    (lambda ()
      ; The dialog stored its values; Repeat Last must use them, so change one first.
      (let* ((image (st-load "rgb.png"))
             (source (st-source image)))
        (st-store-last-classes "digit 2")
        (st-select image 6 6 20 20)
        (let ((group (st-explain-mode RUN-WITH-LAST-VALS image source "" "" "" 0 0 0 60 1)))
          (st-expect-equal (map st-name (st-children group))
                           '("digit 2 @ mid.relu1 (selection) — Seg-Grad-CAM") "last values"))
        ; The dialog opens with them too (the driver reads what it shows).
        (st-interactive-explain image source)
        (gimp-image-delete image))))
  (st-test "dialog-options"
    (lambda ()
      ; Transparent cold values and the legend, stored as the dialog stores them: Repeat uses
      ; them (scripts cannot, the PDB arguments are the same as before).
      (let* ((image (st-load "rgb.png"))
             (source (st-source image)))
        (st-store-last-options)
        (st-select image 6 6 20 20)
        (let* ((children (st-children (st-explain-mode RUN-WITH-LAST-VALS image source "" "" ""
                                                       0 0 0 60 1)))
               (legend (st-name (car children))))
          ; The method the dialog chose (hires) is in the names.
          (st-expect (and (st-contains legend "Legend: jet 0 ")
                          (st-contains legend ", digit 2 max ")
                          (st-contains legend " @ mid.relu1 — hires"))
                     (string-append "legend on top: " legend))
          (st-expect-equal (st-name (cadr children)) "digit 2 @ mid.relu1 (selection) — hires"
                           "the dialog's method")
          (st-expect-equal (map st-visible? children) '(#t #t) "legend and heat map visible")
          (st-expect (st-has-alpha? (cadr children)) "transparent cold values"))
        (gimp-image-delete image))))
  (st-test "model-inherited"
    (lambda ()
      ; As if the last dialog had chosen the gray model: Segment opens with it, and its run
      ; hands it on to Explain.
      (let* ((image (st-load "rgb.png"))
             (source (st-source image)))
        (gimp-attach-parasite (list "segcam-model" 1 (st-gray-model)))
        (st-expect-equal (st-name (st-segment RUN-INTERACTIVE image source "" 60))
                         "Segmentation: tiny-gray" "Segment inherits the model")
        (gimp-attach-parasite (list "segcam-model" 1 ""))
        (st-expect-equal (st-name (st-segment RUN-INTERACTIVE image source "" 60))
                         "Segmentation: texture-mnist-biased" "the bundled default")
        (gimp-attach-parasite (list "segcam-model" 1 (st-gray-model)))
        (st-segment RUN-INTERACTIVE image source "" 60)
        (st-expect (st-contains (st-name (st-interactive-explain image source)) "(tiny-gray)")
                   "Explain inherits Segment's model")
        (gimp-image-delete image))))
  (st-test "heat-map-select-dialog"
    (lambda ()
      ; From the menu with the dialog's defaults (threshold 0.5, replace the selection).
      (let* ((image (st-load "rgb.png"))
             (heat (car (st-children (st-explain image (st-source image) "" "digit 1" "" 0 0 0
                                                 60 1)))))
        (st-expect-equal (st-heat-map-select-mode RUN-INTERACTIVE image heat)
                         (st-selection-channel image) "returns the selection")
        (st-expect (st-has-selection? image) "something selected")
        (gimp-image-delete image))))
  (st-test "dialog-sweep-layers"
    (lambda ()
      ; Last values of a sweep over two listed layers (nodes of both test models): the dialog
      ; ticks them, shows the tick boxes, and its OK hands the list on.
      (let* ((image (st-load "rgb.png"))
             (source (st-source image)))
        (st-store-last-sweep "enc.relu1, colour" 2)
        (let* ((group (st-interactive-explain image source))
               (names (map st-name (st-children group))))
          (define (has part) (let loop ((l names))
                               (and (pair? l) (or (st-contains (car l) part) (loop (cdr l))))))
          (st-expect (st-contains (st-name group) " @ 2 layers — ")
                     (string-append "the sweep's group: " (st-name group)))
          (st-expect (and (has " @ enc.relu1 ") (has " @ colour "))
                     (string-append "a map per ticked layer: " (st-show names))))
        (st-store-last-sweep "" 0)
        (gimp-image-delete image)))))
