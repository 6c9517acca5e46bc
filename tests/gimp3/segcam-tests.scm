; segcam-tests.scm — headless tests of the Seg-Grad-CAM plug-in in GIMP 3.0 (script-fu, v3).
;
; The checks are tests/gimp/segcam-common.scm's, the same as for GIMP 2.10; this file holds what
; GIMP 3's script-fu does its own way: the v3 dialect (PDB calls return plain values, #t/#f for
; booleans, vectors for arrays); image procedures taking a vector of drawables; plug-in procedures
; called with named arguments (#:name value; positional ones still work but are deprecated);
; gimp-file-load with one file name; layers exported through an image of their own (there is no
; drawable to export); last values in a settings file of the profile; GIMP checking argument
; ranges itself. Plus what only GIMP 3 can be asked: several selected layers, and arguments by
; name. run-gimp-tests.py --api 3 defines segcam-dir and segcam-common, loads this file and calls
; one of the entry points of segcam-common.scm.

(script-fu-use-v3)
(load segcam-common)

; ---- version helpers (segcam-common.scm) ---------------------------------------------------

(define (st-open path) (gimp-file-load RUN-NONINTERACTIVE path))
(define (st-load file) (st-open (st-path file)))
(define (st-load-layer image file) (gimp-file-load-layer RUN-NONINTERACTIVE image (st-path file)))
(define (st-new-image width height) (gimp-image-new width height RGB))
(define (st-new-layer image name width height type)
  (gimp-layer-new image name width height type 100 LAYER-MODE-NORMAL))
(define (st-new-group image name) (gimp-group-layer-new image name))
(define (st-source image) (vector-ref (gimp-image-get-selected-layers image) 0))
(define (st-select-layer image layer) (gimp-image-set-selected-layers image (vector layer)))
(define (st-name item) (gimp-item-get-name item))
(define (st-layers image) (vector->list (gimp-image-get-layers image)))
(define (st-children item) (vector->list (gimp-item-get-children item)))
(define (st-group? item) (gimp-item-is-group item))
(define (st-visible? item) (gimp-item-get-visible item))
(define (st-has-alpha? item) (gimp-drawable-has-alpha item))
(define (st-parent item) (gimp-item-get-parent item))
(define (st-offsets item) (gimp-drawable-get-offsets item))
(define (st-size item) (list (gimp-drawable-get-width item) (gimp-drawable-get-height item)))
(define (st-opacity item) (gimp-layer-get-opacity item))
(define (st-gray? item) (gimp-drawable-is-gray item))
(define (st-has-selection? image) (not (gimp-selection-is-empty image)))
(define (st-selection-value image x y) (gimp-selection-value image x y))
(define (st-selection-channel image) (gimp-image-get-selection image))
; Whether the persistent process has installed its Explain procedure.
(define (st-persistent-running?)
  (gimp-pdb-procedure-exists "plug-in-segcam-persistent-explain"))
(define (st-invert drawable) (gimp-drawable-invert drawable #f))
(define (st-convert-indexed image)
  (gimp-image-convert-indexed image CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE 16 #f #f ""))

; A layer's own pixels as an 8-bit PNG: GIMP 3 exports whole images, so the layer is copied into
; an image of its own, at full opacity, with the source image's base type; transparent pixels
; keep their colour, which the plug-in sees (it ignores alpha).
(define (st-save image drawable file)
  (let* ((size (st-size drawable))
         (export (gimp-image-new-with-precision (car size) (cadr size)
                                                (gimp-image-get-base-type image)
                                                PRECISION-U8-NON-LINEAR))
         (copy (gimp-layer-new-from-drawable drawable export)))
    (gimp-image-insert-layer export copy 0 0)
    (gimp-layer-set-offsets copy 0 0)
    (gimp-layer-set-opacity copy 100)
    (gimp-item-set-visible copy #t)
    (file-png-export #:run-mode RUN-NONINTERACTIVE #:image export #:file (st-path file)
                     #:compression 9 #:save-transparent #t)
    (gimp-image-delete export)))

; The procedures take the selected drawables as a vector.
(define (st-explain-drawables mode image drawables model classes layer roi score colormap opacity
                              outputs)
  (plug-in-segcam-explain #:run-mode mode #:image image #:drawables drawables #:model model
                          #:classes classes #:layer layer #:roi-mode roi #:score score
                          #:colormap colormap #:opacity opacity #:outputs outputs))

(define (st-explain-mode mode image drawable model classes layer roi score colormap opacity
                         outputs)
  (st-explain-drawables mode image (vector drawable) model classes layer roi score colormap
                        opacity outputs))

(define (st-segment-drawables mode image drawables model opacity)
  (plug-in-segcam-segment #:run-mode mode #:image image #:drawables drawables #:model model
                          #:opacity opacity))

(define (st-segment mode image drawable model opacity)
  (st-segment-drawables mode image (vector drawable) model opacity))

(define (st-explain-method image drawable model classes layer roi score colormap opacity outputs
                           method weights pool pool-mode sweep max-channels)
  (plug-in-segcam-explain-method #:run-mode RUN-NONINTERACTIVE #:image image
                                 #:drawables (vector drawable) #:model model #:classes classes
                                 #:layer layer #:roi-mode roi #:score score #:colormap colormap
                                 #:opacity opacity #:outputs outputs #:method method
                                 #:weights weights #:pool pool #:pool-mode pool-mode
                                 #:sweep sweep #:max-channels max-channels))

(define (st-heat-map-select image drawable threshold to-channel)
  (plug-in-segcam-heat-map-select #:run-mode RUN-NONINTERACTIVE #:image image
                                  #:drawables (vector drawable) #:threshold threshold
                                  #:to-channel to-channel))

(define (st-heat-map-select-mode mode image drawable)
  (plug-in-segcam-heat-map-select #:run-mode mode #:image image #:drawables (vector drawable)))

; The text of item's parasite of that name, #f when it has none.
(define (st-parasite item name)
  (let ((result (st-try (lambda () (gimp-item-get-parasite item name)))))
    (and (eq? (car result) 'ok) (caddr (cdr result)))))
(define (st-channels image) (vector->list (gimp-image-get-channels image)))

; GIMP 3 checks the ranges the procedures declare before the plug-in runs.
(define (st-out-of-range name)
  (cdr (assq name '((roi-mode . "value 9 out of range: 0 to 3")
                    (outputs . "value 0 out of range: 1 to 7")
                    (opacity . "out of range: 0.000000 to 100.000000")
                    (method . "unknown method \"nope\": the methods are seg-grad-cam, hires, ")
                    (pool . "value 0 out of range: 1 to")
                    (max-channels . "value -1 out of range: 0 to")
                    (sweep . "value 3 out of range: 0 to 2")
                    (threshold . "out of range: 0.000000 to 1.000000")))))

; GIMP 3 hands Repeat Last's error to the caller too.
(define st-repeat-error "empty ROI: the selection does not overlap the layer")

; GIMP 3 keeps last values in the profile, in GIMP's own serialisation, and reads them again at
; each run (after those a dialog run attached to the image); a later line overrides an earlier.
; Appends settings to Explain's last values, where a later one of a name wins.
(define (st-append-last-values settings)
  (let* ((file (st-path (string-append "profile/plug-in-settings/"
                                       "GimpProcedureConfigRun-plug-in-segcam-explain.last")))
         (stored (let ((port (open-input-file file)))
                   (let loop ((chars '()))
                     (let ((c (and port (read-char port))))
                       (if (or (not c) (eof-object? c))
                           (begin (if port (close-input-port port)) (list->string (reverse chars)))
                           (loop (cons c chars))))))))
    (st-expect (st-contains stored "(max-size 1024)") "last values stored")
    (let ((port (open-output-file file)))
      (display stored port)
      (display settings port)
      (close-output-port port))))

(define (st-store-last-classes classes)
  (st-append-last-values (string-append "(classes \"" classes "\")\n")))

; The dialog's options beyond the PDB arguments are aux arguments, kept with the last values.
(define (st-store-last-options)
  (st-append-last-values "(map-alpha yes)\n(legend yes)\n(method \"hires\")\n"))

; Last values of the layer and the sweep (an argument and an aux argument).
(define (st-store-last-sweep layers sweep)
  (st-append-last-values (string-append "(layer \"" layers "\")\n(sweep "
                                        (number->string sweep) ")\n")))

; Only GIMP 3 can pass several selected layers, or none: one at a time only.
(define (st-test-errors-more image source)
  (let ((other (st-new-layer image "other" 48 40 RGB-IMAGE)))
    (gimp-image-insert-layer image other 0 0)
    (st-expect-failure image "two layers" "one layer at a time, not on 2 selected layers"
                       (lambda () (st-explain-drawables RUN-NONINTERACTIVE image
                                                        (vector source other)
                                                        "" "" "" 0 0 0 60 1)))
    (st-expect-failure image "segment, two layers" "one layer at a time"
                       (lambda () (st-segment-drawables RUN-NONINTERACTIVE image
                                                        (vector source other) "" 60)))
    ; Script-fu warns that the empty vector is invalid, and passes it on.
    (st-expect-failure image "no layer" "none is selected"
                       (lambda () (st-explain-drawables RUN-NONINTERACTIVE image (vector)
                                                        "" "" "" 0 0 0 60 1)))))

; The signatures are checked by the driver in the pluginrc GIMP 3 writes; here, that script-fu
; calls the procedures by those names: arguments left out take their defaults, the maximum
; working size (an auxiliary argument, not in the signature) and wrong types fail.
(define (st-test-registration)
  (let* ((image (st-load "rgb.png"))
         (source (st-source image))
         (group (plug-in-segcam-explain #:run-mode RUN-NONINTERACTIVE #:image image
                                        #:drawables (vector source) #:classes "digit 2")))
    (st-expect-equal (map st-name (st-children group))
                     '("digit 2 @ mid.relu1 (whole layer) — Seg-Grad-CAM") "explain by name")
    (st-expect-equal (map st-opacity (st-children group)) '(60.0) "default opacity")
    (st-expect-equal (st-name (plug-in-segcam-segment #:run-mode RUN-NONINTERACTIVE #:image image
                                                      #:drawables (vector source)))
                     "Segmentation: texture-mnist-biased" "segment by name")
    (st-expect-failure image "an unknown argument" "max-size"
                       (lambda () (plug-in-segcam-explain #:run-mode RUN-NONINTERACTIVE
                                                          #:image image
                                                          #:drawables (vector source)
                                                          #:max-size 64)))
    (st-expect-failure image "a number for the model" "expected type: string"
                       (lambda () (plug-in-segcam-explain RUN-NONINTERACTIVE image
                                                          (vector source) 7)))
    (gimp-image-delete image)))
